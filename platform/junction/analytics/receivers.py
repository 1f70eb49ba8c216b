"""Listens to ingest's `batch_stored` signal (sent after the region commit): marks the hours
the batch's buckets cover as dirty and asks the region's worker to roll them up."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from junction.analytics.windows import HOUR, floor_hour

log = logging.getLogger(__name__)


def connect() -> None:
    try:
        from junction.ingest.signals import batch_stored
    except ImportError:
        log.debug("junction.ingest.signals not present; rollups rely on the scheduled sweep")
        return
    batch_stored.connect(on_batch_stored, dispatch_uid="analytics.on_batch_stored")


def hours_covered(windows: Iterable[tuple[datetime, int]]) -> set[datetime]:
    """Every hour a bucket overlaps: an hour-long bucket starting at :30 touches two."""
    hours = set()
    for start, seconds in windows:
        hour = floor_hour(start)
        end = start + timedelta(seconds=seconds)
        while hour < end:
            hours.add(hour)
            hour += HOUR
    return hours


def on_batch_stored(sender: Any, *, region: str, site_id: int,
                    windows: Iterable[tuple[datetime, int]], **kwargs: Any) -> None:
    from junction.analytics import tasks
    from junction.analytics.rollups import dirty_windows_mark

    dirty_windows_mark(region=region, site_id=site_id, starts=hours_covered(windows))
    tasks.rollup_dirty_windows.delay_on_commit(region=region)
