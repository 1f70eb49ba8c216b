"""Ingest bench: the real HTTP stack (gunicorn, Django, PostgreSQL, Redis) under signed batches.

    .venv/bin/python bench/ingest.py [--workers 3] [--clients 6] [--seconds 20]
                                     [--pg postgres://postgres@127.0.0.1:5432]
                                     [--redis redis://127.0.0.1:6379/14]

Creates fresh databases junction_bench_control and junction_bench_eu_west, migrates them,
registers one device per client thread, starts gunicorn on 127.0.0.1, and sends batches of 15
one-minute buckets x 24 count rows (the shape of a quarter hour at a busy intersection) from the
client threads for a bounded time. Prints batches/s, count rows/s, p50/p99 latency, then COPYs
the very rows that were ingested into the same table with psycopg's COPY, in the same run, and
prints the ratio. The Redis database given is the bench's own: it is flushed before and after.

    .venv/bin/python bench/ingest.py --backfill

The backfill case runs the embedded default instead (SQLite files in a fresh folder, tasks
in-process, so every batch's rollups are computed inside its request, one gunicorn worker):
8 devices on 4 sites send 40,000 five-minute buckets of history, oldest first, in batches
through the real endpoint. It prints batches/s for each tenth of the backfill and the ratio of
the last tenth to the first: if ingest slowed down as history grew, the ratio shows it.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import requests

from edge_worker.contract import ROAD_USER_CLASSES

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
CONTROL_DB, REGION_DB = "junction_bench_control", "junction_bench_eu_west"
REGION = "eu-west"
BUCKETS, SECONDS = 15, 60
COUNTERS = ("north-stopline", "south-stopline")
DIRECTIONS = ("in", "out")
CLASSES = ROAD_USER_CLASSES
ROWS_PER_BUCKET = len(COUNTERS) * len(DIRECTIONS) * len(CLASSES)  # 24
PATH = "/api/v1/ingest/batches"
WARMUP = 3  # batches per client before the clock starts


def main() -> None:
    args = _arguments()
    args.port = args.port or _free_port()
    if args.backfill:
        _backfill_main(args)
        return
    env = _environment(args)
    _databases_recreate(args.pg)
    _redis_flush(args.redis)
    _run([PYTHON, "manage.py", "migrate_all", "-v0"], env)
    os.environ.update(env)
    devices = _devices_register(args.clients)
    server = _gunicorn_start(args, env)
    try:
        _wait_ready(args.port)
        result = _load(args, devices, server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    copy_rate, copied = _copy_same_rows()
    _report(args, result, copy_rate, copied)
    _redis_flush(args.redis)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--clients", type=int, default=6, help="client threads (one device each)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the timed run")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument(
        "--backfill",
        action="store_true",
        help="the history backfill on the embedded default (SQLite, in-process)",
    )
    parser.add_argument(
        "--backfill-buckets",
        type=int,
        default=40_000,
        help="buckets of history in all (the backfill case)",
    )
    parser.add_argument(
        "--pg", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
    )
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    )
    return parser.parse_args()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment(args: argparse.Namespace) -> dict[str, str]:
    return {
        "DATABASE_URL": f"{args.pg}/{CONTROL_DB}",
        "JUNCTION_REGIONS": f"{REGION}={args.pg}/{REGION_DB}",
        "REDIS_URL": args.redis,
        "DJANGO_SECRET_KEY": "bench-only-" + uuid.uuid4().hex,
        "JUNCTION_DEBUG": "0",  # DEBUG keeps every query in memory: not what production runs
        "JUNCTION_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO / "platform"),
    }


def _run(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(command, cwd=REPO, env=os.environ | env, check=True)


def _databases_recreate(pg: str) -> None:
    import psycopg

    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        for name in (CONTROL_DB, REGION_DB):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')


def _redis_flush(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def _devices_register(clients: int, per_site: int = 1) -> list[tuple[str, str, str]]:
    """(device_id, secret, site slug) per client thread, registered through the services;
    `per_site` devices share each site (cameras on the approaches of one intersection)."""
    sys.path.insert(0, str(REPO / "platform"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "junction.settings")
    import django

    django.setup()
    from junction.sites import services

    services.region_add(code=REGION, name="Bench region")
    devices = []
    for i in range(clients):
        if i % per_site == 0:
            site = services.site_add(
                slug=f"bench-site-{i // per_site}",
                region=REGION,
                name=f"Bench {i // per_site}",
                counters={name: {} for name in COUNTERS},
            )
        issued = services.device_add(device_id=f"bench-device-{i}", site=site.slug)
        devices.append((issued.device.device_id, issued.secret, site.slug))
    return devices


def _gunicorn_start(args: argparse.Namespace, env: dict[str, str]) -> subprocess.Popen:
    command = [
        PYTHON,
        "-m",
        "gunicorn",
        "junction.wsgi:application",
        "--workers",
        str(args.workers),
        "--bind",
        f"127.0.0.1:{args.port}",
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(command, cwd=REPO, env=os.environ | env)


def _wait_ready(port: int) -> None:
    # Only the socket: the untimed warm-up batches are what load Django in every worker.
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not come up")


def _batch(
    device_id: str, site: str, window_end: int, buckets: int = BUCKETS, seconds: int = SECONDS
) -> tuple[str, bytes]:
    """One batch: `buckets` buckets of `seconds` ending at `window_end`, 24 count rows each."""
    bodies = []
    for n in range(buckets):
        start = window_end - (buckets - n) * seconds
        counts = [
            {"counter": c, "direction": d, "class": k, "count": (start // 60 + i) % 17}
            for i, (c, d, k) in enumerate(
                (c, d, k) for c in COUNTERS for d in DIRECTIONS for k in CLASSES
            )
        ]
        bodies.append(
            {
                "start": datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "seconds": seconds,
                "uptime": 1.0,
                "counts": counts,
            }
        )
    body = {
        "schema": "junction.batch/v1",
        "batch_id": str(uuid.uuid4()),
        "device_id": device_id,
        "site": site,
        "region": REGION,
        "model": {"name": "yolox_nano", "sha256": hashlib.sha256(b"bench").hexdigest()},
        "buckets": bodies,
    }
    return body["batch_id"], json.dumps(body, separators=(",", ":")).encode()


def _signed_headers(device_id: str, secret: str, batch_id: str, body: bytes) -> dict[str, str]:
    # Every body is another batch, so its signature is new even within one second; a stamp
    # stepped ahead per batch would leave the server's skew window at 15 batches/s.
    stamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-Junction-Device": device_id,
        "X-Junction-Timestamp": str(stamp),
        "X-Junction-Signature": "v1=" + mac.hexdigest(),
        "Idempotency-Key": batch_id,
    }


class _Result:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.elapsed = 0.0
        self.machine_busy = self.stack_busy = self.load_before = float("nan")


def _load(
    args: argparse.Namespace, devices: list[tuple[str, str, str]], server_pid: int
) -> _Result:
    result = _Result()
    url = f"http://127.0.0.1:{args.port}{PATH}"
    now = int(time.time())
    first_window_end = now - now % (BUCKETS * SECONDS)
    # Bodies are built before the clock starts, so the client's JSON work is not measured; each
    # one covers an earlier quarter hour, so no bucket is ever replaced.
    per_client = int(args.seconds * 200 / args.clients) + WARMUP + 10
    batches = [
        [
            _batch(device_id, site, first_window_end - k * BUCKETS * SECONDS)
            for k in range(per_client)
        ]
        for device_id, _secret, site in devices
    ]
    stop_at = [0.0]
    start_line = threading.Barrier(len(devices) + 1)

    def client(index: int) -> None:
        device_id, secret, _site = devices[index]
        session = requests.Session()
        latencies, statuses = [], {}
        for n, (batch_id, body) in enumerate(batches[index]):
            if n == WARMUP:
                # Untimed until here: every gunicorn worker has loaded Django and connected.
                latencies, statuses = [], {}
                start_line.wait()
            elif n > WARMUP and time.perf_counter() >= stop_at[0]:
                break
            headers = _signed_headers(device_id, secret, batch_id, body)
            began = time.perf_counter()
            response = session.post(url, data=body, headers=headers, timeout=60)
            latencies.append(time.perf_counter() - began)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code != 201:
                print(f"unexpected {response.status_code}: {response.text[:300]}", file=sys.stderr)
        with result.lock:
            result.latencies += latencies
            for status, n in statuses.items():
                result.statuses[status] = result.statuses.get(status, 0) + n

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(devices))]
    for thread in threads:
        thread.start()
    stop_at[0] = float("inf")
    start_line.wait()
    result.load_before = os.getloadavg()[0]
    busy_before, stack_before = _machine_busy_seconds(), _stack_cpu_seconds(server_pid)
    began = time.perf_counter()
    stop_at[0] = began + args.seconds
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - began
    capacity = result.elapsed * (os.cpu_count() or 1)
    result.machine_busy = (_machine_busy_seconds() - busy_before) / capacity
    result.stack_busy = (_stack_cpu_seconds(server_pid) - stack_before) / capacity
    return result


def _stack_cpu_seconds(server_pid: int) -> float:
    """CPU seconds of the measured stack: gunicorn and its workers, this client process, and
    the PostgreSQL backends serving the bench databases (Redis is left out: it is tiny)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # the process ended while we looked
        fields = stat.rsplit(")", 1)[1].split()
        pid, ppid = int(entry.name), int(fields[1])
        ours = pid in (server_pid, os.getpid()) or ppid == server_pid
        if ours or b"junction_bench_" in cmdline:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (Linux /proc/stat), to show how loaded the
    box was: on a shared machine other work competes with the stack being measured."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return float("nan")
    user, nice, system, idle, iowait, irq, softirq = (int(v) for v in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _copy_same_rows() -> tuple[float, int]:
    """COPY the rows the run stored into the same table again, timed including the commit.

    The rows are read back and rendered as COPY text before the clock starts, as a bulk load
    from a file would be: the figure is what PostgreSQL itself can take in.
    """
    from django.db import connections

    from junction.residency.planes import region_alias

    connection = connections[region_alias(REGION)]
    connection.ensure_connection()
    raw = connection.connection  # the psycopg 3 connection under Django's wrapper (autocommit)
    columns = "region, bucket_id, site_id, start, counter, direction, road_user, count"
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY (SELECT {columns} FROM traffic_countrow) TO STDOUT") as out:
            data = b"".join(bytes(chunk) for chunk in out)
    rows = data.count(b"\n")
    began = time.perf_counter()
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY traffic_countrow ({columns}) FROM STDIN") as copy:
            for offset in range(0, len(data), 1 << 20):
                copy.write(data[offset : offset + (1 << 20)])
    elapsed = time.perf_counter() - began
    return rows / elapsed, rows


def _report(args: argparse.Namespace, result: _Result, copy_rate: float, copied: int) -> None:
    stored = result.statuses.get(201, 0)
    latencies = sorted(result.latencies)
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    p99 = (
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
        if latencies
        else float("nan")
    )
    rows_per_s = stored * BUCKETS * ROWS_PER_BUCKET / result.elapsed
    print(
        f"ingest bench: gunicorn {args.workers} sync workers, {args.clients} client threads, "
        f"{result.elapsed:.1f} s, {os.cpu_count()} CPUs, PostgreSQL + Redis on 127.0.0.1; "
        f"load average before {result.load_before:.1f}"
    )
    print(
        f"CPU: machine busy {result.machine_busy:.0%}, of which this stack "
        f"{result.stack_busy:.0%} and other processes {result.machine_busy - result.stack_busy:.0%}"
    )
    print(
        f"batch: {BUCKETS} one-minute buckets x {ROWS_PER_BUCKET} count rows "
        f"= {BUCKETS * ROWS_PER_BUCKET} rows; answers {dict(sorted(result.statuses.items()))}"
    )
    print(f"batches/s      {stored / result.elapsed:10.1f}")
    print(f"count rows/s   {rows_per_s:10.0f}")
    print(f"latency p50    {p50:10.1f} ms")
    print(f"latency p99    {p99:10.1f} ms")
    print(f"COPY rows/s    {copy_rate:10.0f}   ({copied} rows, same table, same run)")
    print(f"ingest / COPY  {rows_per_s / copy_rate:10.3f}")


BACKFILL_DEVICES, BACKFILL_PER_SITE = 8, 2
BACKFILL_SECONDS = 300
BACKFILL_BATCH = 100  # buckets per batch: a device catching up sends 8 h 20 min at a time
TENTHS = 10


def _backfill_main(args: argparse.Namespace) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="junction-bench-backfill-") as var_dir:
        env = {
            "JUNCTION_VAR_DIR": var_dir,  # the embedded default: SQLite files, no broker
            "DJANGO_SECRET_KEY": "bench-only-" + uuid.uuid4().hex,
            "JUNCTION_DEBUG": "0",
            "JUNCTION_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(REPO / "platform"),
        }
        for name in (
            "DATABASE_URL",
            "JUNCTION_REGIONS",
            "JUNCTION_REGION",
            "REDIS_URL",
            "JUNCTION_TASKS_EAGER",
        ):
            os.environ.pop(name, None)
        _run([PYTHON, "manage.py", "migrate_all", "-v0"], env)
        os.environ.update(env)
        devices = _devices_register(BACKFILL_DEVICES, per_site=BACKFILL_PER_SITE)
        args.workers = 1  # one SQLite writer at a time, whatever the worker count
        server = _gunicorn_start(args, env)
        try:
            _wait_ready(args.port)
            busy_before = _machine_busy_seconds()
            began = time.perf_counter()
            durations = _backfill_send(args.port, devices, args.backfill_buckets)
            capacity = (time.perf_counter() - began) * (os.cpu_count() or 1)
            busy = (_machine_busy_seconds() - busy_before) / capacity
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        _backfill_report(durations, busy)


def _backfill_send(port: int, devices: list[tuple[str, str, str]], buckets: int) -> list[float]:
    """Send every device's history oldest first, the devices taking turns; the wall time of
    each batch, in sending order."""
    url = f"http://127.0.0.1:{port}{PATH}"
    # The default 40,000 buckets are 5,000 per device: 17 days of five-minute buckets.
    per_device = buckets // len(devices) // BACKFILL_BATCH
    span = BACKFILL_BATCH * BACKFILL_SECONDS
    now = int(time.time())
    last_end = now - now % 3600 - 3600
    first_end = last_end - (per_device - 1) * span
    session = requests.Session()
    # One untimed batch per device loads Django in the worker; its hour lies before the history.
    for device_id, secret, site in devices:
        batch_id, body = _batch(device_id, site, first_end - span, 1, BACKFILL_SECONDS)
        session.post(
            url, data=body, headers=_signed_headers(device_id, secret, batch_id, body), timeout=60
        ).raise_for_status()
    durations = []
    for k in range(per_device):
        for device_id, secret, site in devices:
            batch_id, body = _batch(
                device_id, site, first_end + k * span, BACKFILL_BATCH, BACKFILL_SECONDS
            )
            headers = _signed_headers(device_id, secret, batch_id, body)
            began = time.perf_counter()
            response = session.post(url, data=body, headers=headers, timeout=120)
            durations.append(time.perf_counter() - began)
            if response.status_code != 201:
                raise SystemExit(f"unexpected {response.status_code}: {response.text[:300]}")
    return durations


def _backfill_report(durations: list[float], machine_busy: float) -> None:
    from junction.analytics.models import DirtyWindow, Period, Rollup

    tenth = len(durations) // TENTHS
    tenths = [durations[i * tenth : (i + 1) * tenth] for i in range(TENTHS)]
    rates = [len(part) / sum(part) for part in tenths]
    medians = [statistics.median(part) * 1000 for part in tenths]
    hourly = Rollup.objects.in_region(REGION).filter(period=Period.HOUR)
    print(
        f"ingest backfill bench: embedded default (SQLite, in-process tasks), gunicorn 1 sync "
        f"worker, 1 client, {os.cpu_count()} CPUs; machine busy {machine_busy:.0%} during the "
        f"run (other developers' work included)"
    )
    print(
        f"history: {BACKFILL_DEVICES} devices on {BACKFILL_DEVICES // BACKFILL_PER_SITE} sites, "
        f"{len(durations) * BACKFILL_BATCH} buckets of {BACKFILL_SECONDS} s x {ROWS_PER_BUCKET} "
        f"count rows, {len(durations)} batches of {BACKFILL_BATCH} buckets, "
        f"{sum(durations):.1f} s"
    )
    print("batches/s by tenth of the backfill:  " + " ".join(f"{r:6.1f}" for r in rates))
    print("median ms per batch, by tenth:       " + " ".join(f"{m:6.0f}" for m in medians))
    print(f"batches/s at the start  {rates[0]:8.1f}   (first {tenth} batches)")
    print(f"batches/s at the end    {rates[-1]:8.1f}   (last {tenth} batches)")
    print(
        f"end / start             {rates[-1] / rates[0]:8.2f}   "
        f"(median batch time start / end {medians[0] / medians[-1]:.2f})"
    )
    print(
        f"rollups after the backfill: {hourly.count()} hourly rows, "
        f"{DirtyWindow.objects.in_region(REGION).count()} windows still marked dirty"
    )


if __name__ == "__main__":
    main()
