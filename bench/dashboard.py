"""Dashboard bench on PostgreSQL: 20 sites x 1 year of 15-minute, hourly and daily rollups with
their coverage; server time of the site page (4 weeks, 7 days, today) and of the region
overview, p50 and p95, with the queries each page makes.

    .venv/bin/python bench/dashboard.py [--sites 20] [--days 365] [--runs 30] [--reuse]

The pages read rollups, never raw buckets, so the bench writes rollups and window coverage
directly with generate_series (the rollup service's own speed is bench/rollups.py's). Uses its
own databases (junction_bench_dash_control, _eu_west) on BENCH_PG_URL (default
postgres://postgres@127.0.0.1:5432), created and migrated when missing. The sites keep the
region's zone (UTC), so daily windows start at UTC midnight. Aim (issue 11): p95 under 150 ms,
and page time growing with the period shown, not with the data stored (compare --days 30).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

import _platform
from _platform import REGION, region_cursor

KEYS = [("north-stopline", "in", "car"), ("north-stopline", "out", "bicycle")]
PERIODS = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "1d": timedelta(days=1)}


def generate(site_ids: list[int], start: datetime, end: datetime, reuse: bool) -> int:
    with region_cursor() as cur:
        cur.execute(
            "SELECT count(*), min(start), max(start) FROM analytics_rollup WHERE period = '15m'"
        )
        rows, first, last = cur.fetchone()
        expected = len(site_ids) * int((end - start) / PERIODS["15m"]) * len(KEYS)
        if reuse and rows == expected and first == start:
            print(f"reusing {rows:,} 15-minute rollup rows")
            return rows
        t0 = time.perf_counter()
        cur.execute("TRUNCATE analytics_rollup, analytics_windowcoverage")
        for period, step in PERIODS.items():
            quarters = step / PERIODS["15m"]
            # Constants of this file, not input: plain literals are safe here.
            values = ", ".join(f"({i}, '{c}', '{d}', '{u}')" for i, (c, d, u) in enumerate(KEYS))
            cur.execute(
                f"""
                INSERT INTO analytics_rollup (region, site_id, period, start, counter, direction,
                                              road_user, count, coverage, computed_at)
                SELECT %s, s, %s, ts, k.counter, k.direction, k.road_user,
                       floor(%s * (3 + 20 * (extract(hour from ts) BETWEEN 7 AND 19)::int)
                             / (k.i + 1))::int, 1.0, now()
                FROM unnest(%s::bigint[]) AS s,
                     generate_series(%s::timestamptz, %s::timestamptz - %s::interval, %s::interval)
                         AS ts,
                     (VALUES {values}) AS k(i, counter, direction, road_user)
                """,
                [REGION, period, quarters, site_ids, start, end, step, step],
            )
            cur.execute(
                """
                INSERT INTO analytics_windowcoverage (region, site_id, period, start,
                                                      analysed_seconds, devices, coverage)
                SELECT %s, s, %s, ts, extract(epoch from %s::interval), 1,
                       -- about one window in 200 only partly analysed
                       CASE WHEN random() < 0.005 THEN 0.5 ELSE 1.0 END
                FROM unnest(%s::bigint[]) AS s,
                     generate_series(%s::timestamptz, %s::timestamptz - %s::interval, %s::interval)
                         AS ts
                """,
                [REGION, period, step, site_ids, start, end, step, step],
            )
        cur.execute("ANALYZE analytics_rollup")
        cur.execute("ANALYZE analytics_windowcoverage")
        cur.execute("SELECT count(*) FROM analytics_rollup")
        rows = cur.fetchone()[0]
        print(f"generated {rows:,} rollup rows in {time.perf_counter() - t0:.1f} s")
        return rows


def measure(client, url: str, runs: int) -> tuple[float, float, int, int]:
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from junction.residency.planes import region_alias

    client.get(url)  # warm: templates, connections
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        answer = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert answer.status_code == 200, (url, answer.status_code)
    with (
        CaptureQueriesContext(connections["default"]) as control,
        CaptureQueriesContext(connections[region_alias(REGION)]) as region,
    ):
        client.get(url)
    times.sort()
    return (
        statistics.median(times),
        times[max(0, int(len(times) * 0.95) - 1)],
        len(control),
        len(region),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    _platform.postgres("junction_bench_dash_control", "junction_bench_dash_eu_west")
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's hosts and template signals
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    start = end - timedelta(days=args.days)
    counters = {"north-stopline": {"line": [0, 0, 10, 10]}}
    ids = [site.pk for site in _platform.sites(args.sites, counters)]
    generate(ids, start, end, args.reuse)
    User = get_user_model()
    admin = User.objects.filter(username="bench-admin").first() or User.objects.create_superuser(
        "bench-admin", password="bench-admin-password"
    )
    client = Client()
    client.force_login(admin)
    pages = {
        "site page, 4 weeks (daily)": "/sites/bench-site-00/?period=28d",
        "site page, 4 weeks (hourly)": "/sites/bench-site-00/?period=28d&granularity=1h",
        "site page, 7 days (hourly)": "/sites/bench-site-00/?period=7d",
        "site page, today (15 min)": "/sites/bench-site-00/?period=today",
        f"region overview ({args.sites} sites)": f"/regions/{REGION}/",
    }
    print(f"{args.sites} sites x {args.days} days of rollups; {args.runs} runs per page")
    for name, url in pages.items():
        p50, p95, control, region = measure(client, url, args.runs)
        print(
            f"{name:34s} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
            f"queries: {control} control + {region} region"
        )


if __name__ == "__main__":
    main()
