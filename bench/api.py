"""API read speed: requests per second and p95 of the count, rollup and FIWARE reads over four
weeks of one site, called with a token through Django's test client, against the same
selectors called directly in the same run (the baseline: what the database work alone costs).

    .venv/bin/python bench/api.py [--calls 40] [--days 28]

Embedded default (SQLite files in a temporary folder); the rate limits are lifted for the run.
Four count streams of five-minute buckets, rolled up by the platform's own service. The ratio
is the API's mean time per call over the direct call's: what routing, authentication, the
token's audit, validation and serialisation add.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import _platform
from _platform import REGION

END = datetime(2026, 11, 30, tzinfo=UTC)
KEYS = [
    ("north-stopline", "in", "car"),
    ("north-stopline", "out", "car"),
    ("N>E", None, "bicycle"),
    ("south-stopline", "in", "truck"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40, help="timed calls per case and side")
    parser.add_argument("--days", type=int, default=28, help="days of five-minute buckets")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        _platform.embedded(folder)
        began = time.perf_counter()
        site, rows = _site_with_counts(args.days)
        client = _platform.token_client(_platform.analyst())
        print(
            f"{rows} count rows ({args.days} days, {len(KEYS)} streams of 5-minute buckets) "
            f"made and rolled up in {time.perf_counter() - began:.1f} s; embedded SQLite, "
            f"in-process, {args.calls} timed calls per side"
        )
        print(
            f"{'case':34} {'API rps':>8} {'p50 ms':>8} {'p95 ms':>8} | {'direct rps':>10} "
            f"{'p50 ms':>8} {'p95 ms':>8} | ratio"
        )
        for label, path, direct in _cases(site, args.days):
            api, base = _timings(lambda path=path: _get(client, path), direct, args.calls)
            print(
                f"{label:34} {_rps(api):8.1f} {_ms(api, 50):8.2f} {_ms(api, 95):8.2f} | "
                f"{_rps(base):10.1f} {_ms(base, 50):8.2f} {_ms(base, 95):8.2f} | "
                f"{statistics.fmean(api) / statistics.fmean(base):5.2f}"
            )


def _cases(site, days: int) -> list[tuple[str, str, Callable[[], object]]]:
    """(label, API path, the same reads called directly) per case."""
    from junction.analytics import selectors
    from junction.api.fiware import traffic_flow_observed
    from junction.api.views import _coverage
    from junction.traffic.selectors import count_totals

    weeks = END - timedelta(days=days)
    last_day = END - timedelta(days=1)
    zone = ZoneInfo(site.timezone)
    counts = f"/api/v1/sites/{site.slug}/counts"
    rollups = f"/api/v1/sites/{site.slug}/rollups"

    def query(start: datetime, end: datetime, **more: str) -> str:
        pairs = {"start": _iso(start), "end": _iso(end), **more}
        return "?" + "&".join(f"{k}={v}" for k, v in pairs.items())

    def direct_counts(start: datetime, end: datetime, interval: str) -> Callable[[], object]:
        return lambda: (
            count_totals(site=site, start=start, end=end, interval=interval),
            _coverage(site, start, end, interval),
        )

    def direct_rollups(start: datetime, end: datetime, period: str) -> Callable[[], object]:
        def read() -> object:
            grid = selectors.window_grid(period=period, start=start, end=end, tz=zone)
            return selectors.rollup_windows(
                region=REGION, site_id=site.pk, period=period, windows=grid[:100]
            )  # the API's first page

        return read

    def direct_fiware() -> object:
        grid = selectors.window_grid(period="1d", start=weeks, end=END, tz=zone)
        selectors.delivered_coverage(
            region=REGION,
            site_id=site.pk,
            windows=grid,
            start=weeks,
            end=END,
            interval="day",
            tz=zone,
        )
        windows = dict(grid)
        return [
            traffic_flow_observed(site, row, row["period"], windows[row["period"]])
            for row in count_totals(site=site, start=weeks, end=END, interval="day")
        ]

    return [
        (
            "counts, buckets of one day",
            counts + query(last_day, END),
            direct_counts(last_day, END, "bucket"),
        ),
        (
            "counts, one hour of buckets",
            counts + query(END - timedelta(hours=1), END),
            direct_counts(END - timedelta(hours=1), END, "bucket"),
        ),
        (
            f"counts per hour, {days} days",
            counts + query(weeks, END, interval="hour"),
            direct_counts(weeks, END, "hour"),
        ),
        (
            f"counts per day, {days} days",
            counts + query(weeks, END, interval="day"),
            direct_counts(weeks, END, "day"),
        ),
        (
            "rollups per hour, one day",
            rollups + query(last_day, END, period="1h"),
            direct_rollups(last_day, END, "1h"),
        ),
        (
            f"rollups per day, {days} days",
            rollups + query(weeks, END, period="1d"),
            direct_rollups(weeks, END, "1d"),
        ),
        (
            f"FIWARE entities per day, {days} days",
            f"/api/v1/sites/{site.slug}/fiware" + query(weeks, END, interval="day"),
            direct_fiware,
        ),
    ]


def _site_with_counts(days: int):
    from junction.analytics.rollups import rollups_recompute
    from junction.traffic.models import CountBucket, CountRow

    counters = {
        "north-stopline": {"line": [0, 0, 10, 10]},
        "south-stopline": {"line": [0, 10, 10, 20]},
        "N>E": {"entry": "north", "exit": "east"},
    }
    (site,) = _platform.sites(1, counters)
    start = END - timedelta(days=days)
    buckets = CountBucket.objects.in_region(REGION).bulk_create(
        [
            CountBucket(
                region=REGION,
                site_id=site.pk,
                device_id="bench",
                batch_id=uuid.uuid4(),
                start=start + timedelta(minutes=minute),
                seconds=300,
                uptime=1.0,
            )
            for minute in range(0, days * 24 * 60, 5)
        ]
    )
    rows = CountRow.objects.in_region(REGION).bulk_create(
        [
            CountRow(
                region=REGION,
                bucket=bucket,
                site_id=site.pk,
                start=bucket.start,
                counter=counter,
                direction=direction,
                road_user=road_user,
                count=1 + (i + bucket.start.hour) % 9,
            )
            for bucket in buckets
            for i, (counter, direction, road_user) in enumerate(KEYS)
        ],
        batch_size=2000,
    )
    rollups_recompute(region=REGION, site_id=site.pk, start=start, end=END)
    return site, len(rows)


def _get(client, path: str) -> None:
    answer = client.get(path)
    if answer.status_code != 200:
        raise SystemExit(f"{path}: {answer.status_code} {answer.content[:300]!r}")


def _timings(
    api: Callable[[], object], direct: Callable[[], object], calls: int
) -> tuple[list[float], list[float]]:
    """The two sides called in turn, so a load that comes and goes on the machine weighs on
    both alike rather than on whichever ran during it."""
    times: tuple[list[float], list[float]] = ([], [])
    for n in range(3 + calls):  # three warm-up rounds
        for call, spent in zip((api, direct), times, strict=True):
            began = time.perf_counter()
            call()
            if n >= 3:
                spent.append(time.perf_counter() - began)
    return times


def _rps(times: list[float]) -> float:
    return 1 / statistics.fmean(times)


def _ms(times: list[float], percentile: int) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[percentile - 1] * 1000


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


if __name__ == "__main__":
    main()
