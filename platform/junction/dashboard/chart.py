"""Presentation helpers: device health rows and the data of the site page's flow chart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.timesince import timesince

from junction.analytics.models import Anomaly, Period
from junction.dashboard.selectors import LATE_AFTER
from junction.dashboard.study import Study
from junction.sites.models import Device


@dataclass(frozen=True)
class DeviceHealth:
    device: Device
    last_batch_age: str
    state: str  # ok | late | never | revoked


def device_health(device: Device, now: datetime) -> DeviceHealth:
    if device.is_revoked:
        state = "revoked"
    elif device.last_batch_at is None:
        state = "never"
    elif now - device.last_batch_at > LATE_AFTER:
        state = "late"
    else:
        state = "ok"
    if device.last_batch_at is None:
        age = "never"
    elif now - device.last_batch_at < timedelta(minutes=1):
        age = "just now"  # timesince would say "0 minutes ago"
    else:
        age = f"{timesince(device.last_batch_at, now)} ago"
    return DeviceHealth(device=device, last_batch_age=age, state=state)


GRANULARITY_WORDS: dict[str, str] = {
    Period.QUARTER_HOUR: "per 15 minutes", Period.HOUR: "per hour", Period.DAY: "per day"}


def flow_chart(study: Study, anomaly_url: Callable[[Anomaly], str]) -> dict:
    """The site page chart's data, for its script (json_script: data, not code, so the
    Content-Security-Policy stays strict). Times are epoch seconds; the script draws them on
    the site's clock (`zone`). A window without data is null, drawn as a gap over a grey band,
    never as zero; partial windows are shaded apart."""
    points = study.points
    return {
        "zone": study.site.timezone,
        "unit": f"Road users {GRANULARITY_WORDS[study.span.granularity]}",
        "start": [p.start.timestamp() for p in points],
        "end": [p.end.timestamp() for p in points],
        "count": [p.count for p in points],
        "coverage": [p.coverage for p in points],
        "status": [p.status for p in points],
        "pending": [p.pending for p in points],
        "low": [p.normal.low if p.normal else None for p in points],
        "median": [p.normal.median if p.normal else None for p in points],
        "high": [p.normal.high if p.normal else None for p in points],
        "compared": ([p.compared for p in points] if study.span.compare else None),
        "anomalies": [{"start": a.start.timestamp(), "end": a.end.timestamp(),
                       "kind": a.get_kind_display(), "url": anomaly_url(a)}
                      for a in study.anomalies],
    }
