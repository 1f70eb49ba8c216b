"""Request limits, counted in the `throttle` cache: API calls per token, per user and per
address (DRF throttles), and failed credentials per identity (`FailureThrottle`, which ingest
uses for bad signatures per device and per address). Logins are limited by django-axes.

DRF's throttles count in the default cache; ours is the database in the embedded default,
where counting would add two queries to every call. The rates are settings
(JUNCTION_API_RATE_TOKEN, JUNCTION_API_RATE_USER, JUNCTION_API_RATE_ANON); a refused call
gets 429 with Retry-After.
"""

from __future__ import annotations

import hashlib
import math

from django.core.cache import caches
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from junction.accounts.models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    """Per API token, inside its user's own limit: one integrator's runaway script cannot use
    up what the user's other tokens and sessions are allowed."""

    scope = "token"
    cache = caches["throttle"]

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, ApiToken):
            return None  # sessions and Basic are limited per user only
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class StaffRateThrottle(UserRateThrottle):
    cache = caches["throttle"]


class AddressRateThrottle(AnonRateThrottle):
    cache = caches["throttle"]


class FailureThrottle(SimpleRateThrottle):
    """At most `rate` failures per identity (a sliding window, DRF's): only failures are
    counted, and the check comes before the work, so an identity that keeps failing is refused
    without being tried again while one that succeeds is never slowed."""

    cache = caches["throttle"]

    def __init__(self, scope: str, rate: str) -> None:  # no super(): it reads DRF settings
        self.scope = scope
        self.rate = rate
        num_requests, duration = self.parse_rate(rate)
        if num_requests is None or duration is None:
            raise ValueError(f"{scope}: a rate such as '10/minute' is needed, not {rate!r}")
        self.num_requests, self.duration = num_requests, duration

    num_requests: int
    duration: int

    def refused_for(self, ident: str | None) -> int | None:
        """Seconds until `ident` may try again, or None while it is under the limit."""
        self._load(ident)
        if len(self.history) < self.num_requests:
            return None
        return max(1, math.ceil(self.wait() or 1))

    def failed(self, ident: str | None) -> None:
        self._load(ident)
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)

    def _load(self, ident: str | None) -> None:
        # Hashed: the identity is what a client sent (any bytes, any length). None: a server
        # that passes no client address (REMOTE_ADDR) shares one count for all such calls.
        digest = hashlib.sha256((ident or "").encode(errors="replace")).hexdigest()
        self.key = self.cache_format % {"scope": self.scope, "ident": digest}
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]
