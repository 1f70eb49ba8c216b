"""Presentation helpers: device health rows and the geometry of the inline SVG bar chart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.timesince import timesince

from junction.dashboard.selectors import LATE_AFTER, HourBar
from junction.sites.models import Device

CHART_WIDTH, CHART_HEIGHT, BAR_GAP, LABEL_SPACE = 720, 160, 4, 18


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


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    count: int | None
    state: str  # complete | partial | no_data: the CSS class that shades it
    title: str


def hour_bars(hours: list[HourBar]) -> list[Bar]:
    """One bar per hour, scaled to the busiest. A partly analysed hour is shaded apart (its
    height is what was counted while the camera watched, not the hour's traffic), and an hour
    without data gets a full-height grey bar, so an outage never reads as zero traffic."""
    plot = CHART_HEIGHT - LABEL_SPACE
    peak = max((h.count or 0 for h in hours), default=0) or 1
    slot = CHART_WIDTH / max(len(hours), 1)
    bars = []
    for i, hour in enumerate(hours):
        when = f"{hour.start:%Y-%m-%d %H:00}"
        height: float
        if hour.status == "no_data":
            height, title = plot, f"{when}: no data"
        else:
            height = plot * (hour.count or 0) / peak
            title = f"{when}: {hour.count} counted, {hour.coverage:.0%} analysed"
            if hour.status == "partial":
                title += " (partial: traffic while unanalysed is unknown)"
        if hour.pending:
            title += "; late data being rolled up"
        bars.append(Bar(x=i * slot + BAR_GAP / 2, y=plot - height, width=slot - BAR_GAP,
                        height=height, label=f"{hour.start:%H}", count=hour.count,
                        state=hour.status.replace("_", "-"), title=title))
    return bars
