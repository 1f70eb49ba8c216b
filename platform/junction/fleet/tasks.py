"""Fleet tasks: transport only (the repository module does the signing)."""

from __future__ import annotations

import logging

from django.db import DatabaseError

from junction.fleet.repository import metadata_refresh
from junction.residency.tasks import region_task

log = logging.getLogger(__name__)


@region_task(idempotent=True, transient=(DatabaseError,))
def refresh_metadata(*, region: str) -> list[str]:
    """Re-sign the region's snapshot and timestamp when they come near their expiry."""
    renewed = metadata_refresh(region=region)
    if renewed:
        log.info("fleet: %s re-signed in %s", ", ".join(renewed), region)
    return renewed
