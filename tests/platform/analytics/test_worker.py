"""A real Celery worker process consuming only `region.eu-west` from a real Redis broker, on
PostgreSQL: ingested batches become rollups through it, a us-east task sent to it is refused
without touching anything, and beat's entries land on each region's queue.

Needs PostgreSQL and Redis (the PostgreSQL pass of `make test`); the SQLite pass covers the same
tasks in-process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from celery.beat import Scheduler
from django.conf import settings

from junction.analytics import tasks
from junction.analytics.models import DirtyWindow, Period, Rollup, WindowCoverage
from junction.celery import app
from junction.residency.planes import region_alias
from junction.sites import services as site_services
from junction.sites.models import CounterKind
from tests.conftest import require
from tests.platform.analytics.factories import store_buckets

ROOT = Path(__file__).resolve().parents[3]
QUEUES = ("region.eu-west", "region.us-east")
READY_TIMEOUT = 60
TASK_TIMEOUT = 30


# The SQLite pass runs these tasks in-process (test_tasks.py) and leaves this module out;
# `make test` runs it in its PostgreSQL + Redis pass (see tests/conftest.py).
pytestmark = pytest.mark.postgres_pass


def _services_available() -> None:
    require(bool(settings.REDIS_URL), "a real worker needs a Redis broker (REDIS_URL)")
    require(_broker_reachable(), f"Redis at {settings.REDIS_URL} is not reachable")


def _broker_reachable() -> bool:
    import redis

    try:
        return bool(_broker().ping())
    except redis.RedisError:
        return False


def _database_url(alias: str) -> str:
    db = settings.DATABASES[alias]
    auth = quote(db.get("USER") or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


class WorkerProcess:
    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = dict(os.environ)
        env.pop("JUNCTION_REGION", None)
        env.update(
            # The test databases pytest-django created, so the worker sees what tests commit.
            DATABASE_URL=_database_url("default"),
            JUNCTION_REGIONS=",".join(
                f"{code}={_database_url(region_alias(code))}" for code in settings.SERVED_REGIONS
            ),
            JUNCTION_TASKS_EAGER="0",
            PYTHONPATH=os.pathsep.join(
                [str(ROOT / "platform"), str(ROOT), env.get("PYTHONPATH", "")]
            ),
        )
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "junction",
            "worker",
            "-Q",
            "region.eu-west",
            "--pool",
            "solo",
            "-c",
            "1",
            "-l",
            "INFO",
            "-n",
            f"analytics-test-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            command, cwd=ROOT / "platform", env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.wait_for("ready.", READY_TIMEOUT)

    def output(self) -> str:
        return self.log_path.read_text()

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.process.poll() is not None:
                pytest.fail(f"worker exited with {self.process.returncode}:\n{self.output()}")
            time.sleep(0.2)
        pytest.fail(f"worker did not log {text!r} within {timeout}s:\n{self.output()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def _broker():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, tmp_path_factory):
    _services_available()
    _broker().delete(*QUEUES)  # nothing left over from an earlier run
    process = WorkerProcess(tmp_path_factory.mktemp("worker") / "worker.log")
    process.start()
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False  # this process now sends real messages
    yield process
    app.conf.task_always_eager = eager
    process.stop()
    _broker().delete(*QUEUES)


def wait_until(condition, timeout: float = TASK_TIMEOUT, what: str = "", worker=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    log = worker.output() if worker else ""
    pytest.fail(f"timed out waiting for {what}\n{log}")


def test_it_turns_an_ingested_batch_into_rollups_through_the_worker(
    worker, transactional_db, client, eu_device
):
    from tests.platform.ingest.device import example_batch, send

    site_services.counter_add(site=eu_device.site, name="crosswalk-north", kind=CounterKind.ZONE)
    response = send(client, eu_device, example_batch(eu_device))
    assert response.status_code == 201, response.content

    hourly = Rollup.objects.in_region("eu-west").filter(period=Period.HOUR)
    wait_until(lambda: hourly.count() == 2, what="hourly rollups from the worker", worker=worker)
    assert sorted((r.counter, r.direction, r.road_user, r.count) for r in hourly) == [
        ("N>E", "", "bicycle", 1),
        ("north-stopline", "in", "car", 12),
    ]
    assert [r.coverage for r in hourly] == pytest.approx([0.98 * 60 / 3600] * 2)
    assert not DirtyWindow.objects.in_region("eu-west").exists()
    assert "rollup_dirty_windows" in worker.output()


def test_it_refuses_a_us_east_task_sent_to_the_eu_west_worker(
    worker, transactional_db, us_site, eu_site
):
    from django.utils import timezone

    now = timezone.now().replace(second=0, microsecond=0)
    store_buckets(
        region="us-east",
        site_id=us_site.pk,
        start=now,
        minutes=2,
        counts={("south-stopline", "in", "car"): 4},
    )
    DirtyWindow(
        region="us-east", site_id=us_site.pk, start=now.replace(minute=0), marked_at=now
    ).save()
    eu_before = [
        m.objects.in_region("eu-west").count() for m in (Rollup, WindowCoverage, DirtyWindow)
    ]

    result = tasks.rollup_dirty_windows.apply_async(
        kwargs={"region": "us-east"}, queue="region.eu-west"
    )

    worker.wait_for(f"{result.id}] reject requeue=False", TASK_TIMEOUT)
    assert "refuses a task for region 'us-east'" in worker.output()
    assert DirtyWindow.objects.in_region("us-east").get().state == DirtyWindow.State.PENDING
    assert not Rollup.objects.in_region("us-east").exists()
    assert [
        m.objects.in_region("eu-west").count() for m in (Rollup, WindowCoverage, DirtyWindow)
    ] == eu_before
    assert _broker().llen("region.eu-west") == 0  # rejected for good, not requeued


def test_it_enqueues_beat_entries_on_each_regions_queue(worker, transactional_db):
    scheduler = Scheduler(app=app, lazy=True)
    scheduler.merge_inplace(app.conf.beat_schedule)
    eu = scheduler.apply_async(scheduler.schedule["analytics-rollup-eu-west"], advance=False)
    us = scheduler.apply_async(scheduler.schedule["analytics-rollup-us-east"], advance=False)

    worker.wait_for(f"sweep_dirty_windows[{eu.id}] succeeded", TASK_TIMEOUT)
    # Nobody consumes us-east here: its message waits on its own queue, untouched.
    assert _broker().llen("region.us-east") == 1
    assert us.id not in worker.output()


def test_it_reports_a_dark_camera_through_the_worker(worker, transactional_db, client, eu_device):
    """Five weeks of 15-minute buckets through ingest, the last two hours with the camera dark
    (uptime 0); the worker rolls them up and its detection names the camera's outage."""
    import numpy as np
    from django.utils import timezone

    from junction.analytics.models import Anomaly
    from tests.platform.analytics.test_deployments import deliver
    from tests.platform.analytics.traffic import generate

    now = timezone.now()
    end = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    traffic = generate(np.random.default_rng(9), weeks=5)
    start = end - traffic.volume.size * timedelta(minutes=15)
    dark = np.zeros(traffic.volume.size, dtype=bool)
    dark[-8:] = True
    deliver(
        client,
        eu_device,
        start=start,
        counter="north-stopline",
        volume=traffic.volume,
        dark=dark,
        per_batch=672,
    )
    coverage = WindowCoverage.objects.in_region("eu-west").filter(period=Period.QUARTER_HOUR)
    wait_until(
        lambda: (
            coverage.count() == traffic.volume.size
            and not DirtyWindow.objects.in_region("eu-west").exists()
        ),
        what="the worker's rollups",
        worker=worker,
    )

    result = tasks.detect_anomalies.apply_async(
        kwargs={
            "region": "eu-west",
            "since": (end - timedelta(hours=6)).isoformat(),
            "until": end.isoformat(),
        },
        queue="region.eu-west",
    )
    worker.wait_for(f"detect_anomalies[{result.id}] succeeded", TASK_TIMEOUT)
    outage = Anomaly.objects.in_region("eu-west").get()
    assert (outage.kind, outage.device_id, outage.counter) == ("outage", eu_device.device_id, "")
    assert (outage.start, outage.end) == (end - timedelta(hours=2), end)
