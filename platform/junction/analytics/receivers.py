"""Listens to traffic's `batch_stored` signal (sent after the region commit): marks the hours
the batch's buckets cover as dirty and asks the region's worker to roll them up."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from junction.analytics.windows import HOUR, floor_hour

log = logging.getLogger(__name__)

# In-process mode: hours of earlier, failed rollups that one request may take on besides its own.
BACKLOG_PER_REQUEST = 24


def connect() -> None:
    from junction.traffic.signals import batch_stored

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


def on_batch_stored(
    sender: Any,
    *,
    region: str,
    site_id: int,
    windows: Iterable[tuple[datetime, int]],
    **kwargs: Any,
) -> None:
    from junction.analytics import tasks
    from junction.analytics.rollups import dirty_windows_mark

    hours = hours_covered(windows)
    dirty_windows_mark(region=region, site_id=site_id, starts=hours)
    if not tasks.rollup_dirty_windows.app.conf.task_always_eager:
        # A worker takes the task: it claims the marks of every batch that arrived meanwhile,
        # so a busy site's hours coalesce into a few long recomputes.
        tasks.rollup_dirty_windows.delay_on_commit(region=region)
        return
    # In-process (the embedded default has no broker and no beat): the rollup runs in this
    # request, after the region commit and before the answer, so the demo's first batch shows
    # in its dashboard at once and no work is lost to a process that exits (ingest_sample,
    # runserver reloads). It is not deferred to a thread after the answer: on SQLite that
    # thread would fight the next batch for the single write lock. What keeps the request's
    # cost flat however long the history is: it claims the hours this batch marked (the newest
    # marks come first) plus a few left over by a failed run, never a sweep of recent receipts.
    tasks.rollup_dirty_windows.delay_on_commit(
        region=region, limit=len(hours) + BACKLOG_PER_REQUEST
    )
