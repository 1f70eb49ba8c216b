"""Short-lived claims shared by every web worker: seen signatures and batch locks.

With REDIS_URL they are Redis keys set with NX and an expiry (one round trip, atomic); without,
they go through the Django cache, whose `add` is atomic on the database cache too. Redis is used
directly rather than through Django's cache because Django builds a new Redis client for every
cache call, which cost more CPU than the rest of the claim.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache

from junction.ingest.errors import InProgress, Unauthenticated

# A batch store takes well under a second; the lock only has to outlive the slowest request
# (gunicorn's worker timeout is 30 s). If it ever expires early, the unique batch_id in the
# region database still refuses the second copy.
LOCK_SECONDS = 60
PREFIX = "junction:ingest:"


class _RedisClaims:
    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)  # a connection pool, safe across threads

    def add(self, key: str, seconds: int) -> bool:
        return bool(self.client.set(key, b"1", nx=True, ex=seconds))

    def delete(self, key: str) -> None:
        self.client.delete(key)


class _CacheClaims:
    def add(self, key: str, seconds: int) -> bool:
        return cache.add(key, 1, timeout=seconds)

    def delete(self, key: str) -> None:
        cache.delete(key)


@functools.cache
def _claims_for(redis_url: str | None) -> _RedisClaims | _CacheClaims:
    return _RedisClaims(redis_url) if redis_url else _CacheClaims()


def claims() -> _RedisClaims | _CacheClaims:
    return _claims_for(settings.REDIS_URL)


def signature_claim(signature: str, *, max_skew: int) -> None:
    """Remember a verified signature; refuse one seen before (a captured request replayed).

    A signature is acceptable while its timestamp is within +-max_skew of server time, i.e. for
    at most 2 * max_skew seconds from now; it is remembered a little longer than that.
    """
    if not claims().add(f"{PREFIX}sig:{signature}", 2 * max_skew + 60):
        raise Unauthenticated(
            "replayed_signature",
            "X-Junction-Signature",
            "this signature was already used; sign every attempt afresh with the current time",
        )


@contextmanager
def batch_lock(region: str, batch_id: str) -> Iterator[None]:
    """Hold the batch id while it is stored; a concurrent copy of it gets 409 and retries."""
    key = f"{PREFIX}lock:{region}:{batch_id}"
    store = claims()
    if not store.add(key, LOCK_SECONDS):
        raise InProgress(
            "batch_in_progress",
            "batch_id",
            f"batch {batch_id} is being stored by another request; retry shortly",
        )
    try:
        yield
    finally:
        # Plain delete: if the lock had expired and been retaken, the database's unique
        # batch_id is what keeps the batch single, not this lock.
        store.delete(key)
