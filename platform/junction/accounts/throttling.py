"""API request limits per user and per address, counted in the `throttle` cache.

DRF's throttles count in the default cache; ours is the database in the embedded default,
where counting would add two queries to every call. The rates are settings
(JUNCTION_API_RATE_USER, JUNCTION_API_RATE_ANON); a refused call gets 429 with Retry-After.
"""

from __future__ import annotations

from django.core.cache import caches
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class StaffRateThrottle(UserRateThrottle):
    cache = caches["throttle"]


class AddressRateThrottle(AnonRateThrottle):
    cache = caches["throttle"]
