"""What an API token costs per call: the same `counts` and `regions` calls made with a staff
session (the baseline, in the same run) and with a token (its lookup, the last-use stamp and the
audit row in the region read), in-process through Django's test client.

    .venv/bin/python bench/api_tokens.py [--calls 400]

Embedded default (SQLite files in a temporary folder); the rate limits are lifted for the run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

import _platform

COUNTS = "/api/v1/sites/bench-site-00/counts?start=2026-11-24T00:00:00Z&end=2026-11-25T00:00:00Z"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=400, help="calls per case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        _platform.embedded(folder)
        session, bearer = _clients()
        print(f"{args.calls} calls per case, embedded SQLite, in-process")
        for label, path in (("regions", "/api/v1/regions"), ("counts (one day)", COUNTS)):
            base = _per_call(session, path, args.calls)
            token = _per_call(bearer, path, args.calls)
            print(
                f"{label:18} session {base * 1000:7.2f} ms/call  token {token * 1000:7.2f} "
                f"ms/call  ratio {token / base:5.2f}"
            )
        from junction.residency.models import AuditEvent

        rows = AuditEvent.objects.in_region("eu-west").filter(action="token_use")
        print(
            f"audit rows for {2 * (args.calls + 20)} token calls (with warm-ups): {rows.count()} "
            f"(repeats {sum(r.repeats for r in rows)})"
        )


def _clients():
    from django.test import Client

    from junction.traffic.models import CountBucket, CountRow

    (site,) = _platform.sites(1, {"stop": {"line": [0, 0, 10, 10]}})
    start = datetime(2026, 11, 24, tzinfo=UTC)
    for minute in range(0, 24 * 60, 5):
        at = start + timedelta(minutes=minute)
        bucket = CountBucket(
            region="eu-west",
            site_id=site.pk,
            device_id="bench",
            batch_id=uuid.uuid4(),
            start=at,
            seconds=300,
            uptime=1.0,
        )
        bucket.save()
        CountRow(
            region="eu-west",
            bucket=bucket,
            site_id=site.pk,
            start=at,
            counter="stop",
            direction="in",
            road_user="car",
            count=7,
        ).save()
    user = _platform.analyst()
    session = Client()
    session.force_login(user)
    return session, _platform.token_client(user)


def _per_call(client, path: str, calls: int) -> float:
    for _ in range(20):  # warm up
        assert client.get(path).status_code == 200
    began = time.perf_counter()
    for _ in range(calls):
        client.get(path)
    return (time.perf_counter() - began) / calls


if __name__ == "__main__":
    main()
