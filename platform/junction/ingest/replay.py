"""Short-lived claims in the shared cache (Redis in production): seen signatures and batch locks.

Both use `cache.add`, which is atomic on Redis (SET NX) and on the database cache (primary key),
so every web worker of the node sees the same claims.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache

from junction.ingest.errors import InProgress, Unauthenticated

log = logging.getLogger(__name__)

# A batch store takes well under a second; the lock only has to outlive the slowest request
# (gunicorn's worker timeout is 30 s). If it ever expires early, the unique batch_id in the
# region database still refuses the second copy.
LOCK_SECONDS = 60


def signature_claim(signature: str, *, max_skew: int) -> None:
    """Remember a verified signature; refuse one seen before (a captured request replayed).

    A signature is acceptable while its timestamp is within +-max_skew of server time, i.e. for
    at most 2 * max_skew seconds from now; it is remembered a little longer than that.
    """
    key = f"junction:ingest:sig:{signature}"
    if not cache.add(key, 1, timeout=2 * max_skew + 60):
        raise Unauthenticated(
            "replayed_signature", "X-Junction-Signature",
            "this signature was already used; sign every attempt afresh with the current time",
        )


@contextmanager
def batch_lock(region: str, batch_id: str) -> Iterator[None]:
    """Hold the batch id while it is stored; a concurrent copy of it gets 409 and retries."""
    key = f"junction:ingest:lock:{region}:{batch_id}"
    if not cache.add(key, 1, timeout=LOCK_SECONDS):
        raise InProgress("batch_in_progress", "batch_id",
                         f"batch {batch_id} is being stored by another request; retry shortly")
    try:
        yield
    finally:
        # Plain delete: if the lock had expired and been retaken, the database's unique
        # batch_id is what keeps the batch single, not this lock.
        cache.delete(key)
