"""Presentation helpers: device health rows, the data of the site page's flow chart and a
region overview's sparklines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.timesince import timesince

from junction.analytics.models import Anomaly, Period
from junction.dashboard.overview import DayTotal
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
    Period.QUARTER_HOUR: "per 15 minutes",
    Period.HOUR: "per hour",
    Period.DAY: "per day",
}


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
        "anomalies": [
            {
                "start": a.start.timestamp(),
                "end": a.end.timestamp(),
                "kind": a.get_kind_display(),
                "url": anomaly_url(a),
            }
            for a in study.anomalies
        ],
    }


SPARK_WIDTH, SPARK_HEIGHT = 140, 36


@dataclass(frozen=True)
class Sparkline:
    lines: list[str]  # polyline points of each run of days with data
    band: str  # polygon points of the normal's inter-quartile band ("" without a normal)
    gaps: list[float]  # x of each day without data, drawn as a grey slot, not as zero
    slot: float
    label: str  # the text alternative: every day's count beside its normal


def sparkline(days: list[DayTotal]) -> Sparkline:
    """A site's last days against its normal, as inline SVG geometry (no script needed)."""
    top = max([d.count or 0 for d in days] + [d.normal.high if d.normal else 0 for d in days])
    scale = (SPARK_HEIGHT - 2) / (top or 1)
    slot = SPARK_WIDTH / len(days)

    def point(i: int, value: float) -> str:
        return f"{(i + 0.5) * slot:.1f},{SPARK_HEIGHT - 1 - value * scale:.1f}"

    lines: list[list[str]] = []
    previous = False
    for i, day in enumerate(days):
        if day.count is None:
            previous = False
            continue
        if not previous:
            lines.append([])
        lines[-1].append(point(i, day.count))
        previous = True
    normals = [(i, d.normal) for i, d in enumerate(days) if d.normal]
    band = (
        " ".join(
            [point(i, n.high) for i, n in normals] + [point(i, n.low) for i, n in reversed(normals)]
        )
        if normals
        else ""
    )
    words = []
    for day in days:
        said = "no data" if day.count is None else f"{day.count}"
        if day.status == "partial":
            said += f" ({day.coverage:.0%} analysed)"
        if day.normal:
            said += f", normal {day.normal.median:.0f}"
        words.append(f"{day.day:%a %d}: {said}")
    return Sparkline(
        lines=[" ".join(line) for line in lines],
        band=band,
        gaps=[i * slot for i, d in enumerate(days) if d.count is None],
        slot=slot,
        label="Last 7 days: " + "; ".join(words),
    )


@dataclass(frozen=True)
class HistogramBar:
    label: str
    count: int
    top: int  # the tallest bar's count: the scale of the <meter> drawn beside it


def speed_bars(edges_kmh: list[float], counts: list[int]) -> list[HistogramBar]:
    """The speed histogram as bars of a plain table (its own text alternative)."""
    top = max(counts, default=0) or 1
    return [
        HistogramBar(label=f"{edges_kmh[i]:g}–{edges_kmh[i + 1]:g}", count=count, top=top)
        for i, count in enumerate(counts)
    ]
