"""Analytics tasks: transport only. Each takes a region (and ids), calls a service, and lets
region_task route it to `region.<code>` and refuse it anywhere else."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import OperationalError
from django.utils import timezone

from junction.analytics import alerts, anomalies, retention, rollups
from junction.analytics.schedule import ROLLUP_EVERY_SECONDS
from junction.residency.tasks import region_task

log = logging.getLogger(__name__)


@region_task(idempotent=True, transient=(OperationalError,), expires=ROLLUP_EVERY_SECONDS * 2)
def rollup_dirty_windows(*, region: str, limit: int = rollups.CLAIM_LIMIT) -> int:
    """Roll up the hours already marked dirty (by ingest or by the sweep), and nothing else.

    Ingest sends this after each batch. It never sweeps: a sweep marks every hour received in
    the last ten minutes, so during a backfill each batch would recompute all the history sent
    before it, and ingest would slow down as history grows.
    """
    return len(rollups.dirty_windows_rollup(region=region, limit=limit))


@region_task(idempotent=True, transient=(OperationalError,), expires=ROLLUP_EVERY_SECONDS * 2)
def sweep_dirty_windows(*, region: str) -> int:
    """The beat schedule's backstop: mark what a crashed request stored but never announced,
    then roll up every pending mark."""
    # Two sweep intervals back, so a run that was late or skipped leaves no bucket unmarked.
    since = timezone.now() - timedelta(seconds=ROLLUP_EVERY_SECONDS * 2)
    rollups.dirty_windows_sweep(region=region, received_since=since)
    return len(rollups.dirty_windows_rollup(region=region))


@region_task(idempotent=True, transient=(OperationalError,))
def detect_anomalies(*, region: str, since: str | None = None, until: str | None = None) -> int:
    report = anomalies.anomalies_detect_region(
        region=region,
        since=datetime.fromisoformat(since) if since else None,
        until=datetime.fromisoformat(until) if until else None,
    )
    return len(report.recorded)


@region_task(idempotent=True, transient=(OperationalError,), expires=86400)
def apply_retention(*, region: str) -> dict:
    return retention.retention_apply(region=region)


@region_task(
    idempotent=True,
    transient=(alerts.DeliveryFailed, OperationalError),
    max_retries=8,
    expires=86400,
)
def deliver_alert(*, region: str, delivery_id: int) -> str:
    return alerts.alert_delivery_send(region=region, delivery_id=delivery_id)
