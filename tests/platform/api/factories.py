"""Anomalies as detection would leave them, written straight to a region's database (the API
and dashboard tests read and triage them; detection has its own tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from junction.analytics.models import Anomaly
from junction.sites.models import Site

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def anomaly_add(
    site: Site,
    *,
    kind: str = "drop",
    counter: str = "",
    device_id: str = "",
    hours_ago: float = 0,
    state: str = Anomaly.State.OPEN,
    severity: float = 6.0,
) -> Anomaly:
    start = T0 - timedelta(hours=hours_ago)
    anomaly = Anomaly(
        region=site.region.code,
        site_id=site.pk,
        counter=counter,
        device_id=device_id,
        kind=kind,
        start=start,
        end=start + timedelta(minutes=45),
        severity=severity,
        expected=120.0,
        observed=30.0,
        state=state,
    )
    anomaly.save()
    return anomaly
