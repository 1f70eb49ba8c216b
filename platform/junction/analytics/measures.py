"""Traffic-engineering measures as pure functions over rollup values (no database).

Selectors load the rollups; these functions hold the definitions an engineer would check
against the Highway Capacity Manual: peak hour, peak hour factor, average daily traffic and
the 85th-percentile speed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

QUARTER = timedelta(minutes=15)
# Days measured for less than this are left out of averages: a day with a six-hour outage
# would otherwise pull the average daily traffic down as if the road had been quiet.
COMPLETE_DAY_COVERAGE = 0.95


@dataclass(frozen=True)
class PeakHour:
    start: datetime
    volume: int
    busiest_quarter: int
    phf: float  # hourly volume / (4 x busiest 15-minute volume); 1.0 is perfectly even flow


def peak_hour(quarters: Mapping[datetime, int]) -> PeakHour | None:
    """The four consecutive 15-minute windows with the highest total, and its PHF.

    Missing quarters count as absent, not as zero: an hour is only a candidate when all four
    of its quarters were counted.
    """
    best: PeakHour | None = None
    for start in sorted(quarters):
        hour = [start + i * QUARTER for i in range(4)]
        if not all(q in quarters for q in hour):
            continue
        volumes = [quarters[q] for q in hour]
        total = sum(volumes)
        if best is None or total > best.volume:
            busiest = max(volumes)
            best = PeakHour(
                start=start,
                volume=total,
                busiest_quarter=busiest,
                phf=round(total / (4 * busiest), 3) if busiest else 0.0,
            )
    return best


def turning_movement_counts(
    rows: Iterable[tuple[datetime, str, str, int]],
) -> dict[datetime, dict[str, dict[str, int]]]:
    """TMC table: per 15-minute window, per movement (or counter/direction), per road user."""
    table: dict[datetime, dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for start, movement, road_user, count in rows:
        table[start][movement][road_user] += count
    return {
        start: {m: dict(users) for m, users in moves.items()}
        for start, moves in sorted(table.items())
    }


def average_daily_traffic(days: Iterable[tuple[date, int, float]]) -> dict[str, dict]:
    """ADT per weekday (Monday..Sunday) and per month (YYYY-MM) from (day, volume, coverage).

    Only complete days count; `days` reports how many went into each average.
    """
    by_weekday: dict[str, list[int]] = defaultdict(list)
    by_month: dict[str, list[int]] = defaultdict(list)
    for day, volume, coverage in days:
        if coverage < COMPLETE_DAY_COVERAGE:
            continue
        by_weekday[day.strftime("%A")].append(volume)
        by_month[day.strftime("%Y-%m")].append(volume)

    def summarise(groups: dict[str, list[int]]) -> dict[str, dict]:
        return {
            key: {"adt": round(sum(v) / len(v), 1), "days": len(v)} for key, v in groups.items()
        }

    return {"weekday": summarise(by_weekday), "month": summarise(by_month)}


@dataclass(frozen=True)
class DailyAverage:
    """A mean daily volume and how many complete days went into it."""

    volume: float
    days: int


def daily_averages(days: Iterable[tuple[date, int, float]]) -> dict[str, DailyAverage]:
    """ADT over every complete day, and AWDT over the complete weekdays (Monday to Friday)
    of a period, from (local day, volume, coverage); an average with no day is left out.
    Annual figures (AADT, AAWDT) are these over a whole year of days."""
    complete = [
        (day, volume) for day, volume, coverage in days if coverage >= COMPLETE_DAY_COVERAGE
    ]
    groups = {
        "adt": [v for _, v in complete],
        "awdt": [v for day, v in complete if day.weekday() < 5],
    }
    return {
        name: DailyAverage(round(sum(vs) / len(vs), 1), len(vs))
        for name, vs in groups.items()
        if vs
    }


def speed_percentile(
    edges_kmh: Sequence[float], counts: Sequence[int], p: float = 0.85
) -> float | None:
    """The p-th percentile speed of a histogram, interpolated linearly within its bin.

    Vehicles in a bin are taken as spread evenly across it, the usual assumption for binned
    spot-speed data.
    """
    total = sum(counts)
    if total == 0:
        return None
    target = p * total
    cumulative = 0.0
    for i, count in enumerate(counts):
        if count and cumulative + count >= target:
            low, high = edges_kmh[i], edges_kmh[i + 1]
            return round(low + (target - cumulative) / count * (high - low), 2)
        cumulative += count
    return float(edges_kmh[-1])


def merge_histograms(
    histograms: Iterable[tuple[Sequence[float], Sequence[int]]],
) -> dict[tuple[float, ...], list[int]]:
    """Sum histograms that share bin edges (a device may change bins; those stay apart)."""
    merged: dict[tuple[float, ...], list[int]] = {}
    for edges, counts in histograms:
        key = tuple(edges)
        if key not in merged:
            merged[key] = [0] * len(counts)
        merged[key] = [a + b for a, b in zip(merged[key], counts, strict=True)]
    return merged


def v85(histograms: Iterable[tuple[Sequence[float], Sequence[int]]]) -> float | None:
    """85th-percentile speed over histograms; with several bin layouts, the most populated."""
    merged = merge_histograms(histograms)
    if not merged:
        return None
    edges, counts = max(merged.items(), key=lambda item: sum(item[1]))
    return speed_percentile(edges, counts, 0.85)
