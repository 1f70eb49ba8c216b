"""Listens to ingest's `batch_stored` signal: marks the batch's hours dirty and asks the
region's worker to roll them up once the marks are committed."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction

log = logging.getLogger(__name__)


def connect() -> None:
    try:
        from junction.ingest.signals import batch_stored
    except ImportError:
        log.debug("junction.ingest.signals not present; rollups rely on the scheduled sweep")
        return
    batch_stored.connect(on_batch_stored, dispatch_uid="analytics.on_batch_stored")


def on_batch_stored(sender: Any, *, region: str, site_id: int, starts: Iterable[datetime],
                    **kwargs: Any) -> None:
    from junction.analytics import tasks
    from junction.analytics.rollups import dirty_windows_mark
    from junction.residency.planes import served_alias

    dirty_windows_mark(region=region, site_id=site_id, starts=starts)
    transaction.on_commit(lambda: tasks.rollup_dirty_windows.delay(region=region),
                          using=served_alias(region))
