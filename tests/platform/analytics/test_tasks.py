"""Analytics tasks are region tasks: routed to `region.<code>`, refused by a worker that does
not serve the region, and scheduled by beat once per region on that region's queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from celery.beat import Scheduler
from celery.exceptions import Reject
from celery.schedules import crontab
from django.conf import settings
from django.core.management import call_command

from junction.analytics import tasks
from junction.analytics.models import DirtyWindow, Period, Rollup
from junction.analytics.schedule import beat_schedule
from junction.celery import app
from junction.residency import tasks as region_tasks
from tests.platform.analytics.factories import store_buckets

COUNTS = {("north-stopline", "in", "car"): 2}


@pytest.fixture
def sent(monkeypatch):
    """What would go to the broker: (task name, kwargs, queue) of each message."""
    messages = []

    def capture(self, args=None, kwargs=None, **options):
        messages.append((self.name, kwargs, options.get("queue")))

    monkeypatch.setattr("celery.app.task.Task.apply_async", capture)
    return messages


def _entries(region: str) -> dict[str, dict]:
    """The beat entries of one region, written out: every five minutes the sweep, every quarter
    hour detection, daily at 02:07 retention, all on the region's own queue."""
    on_its_queue = {"kwargs": {"region": region}, "options": {"queue": f"region.{region}"}}
    return {
        f"analytics-rollup-{region}": {
            "task": "junction.analytics.tasks.sweep_dirty_windows",
            "schedule": 300,
            **on_its_queue,
        },
        f"analytics-detect-{region}": {
            "task": "junction.analytics.tasks.detect_anomalies",
            "schedule": 900,
            **on_its_queue,
        },
        f"analytics-retention-{region}": {
            "task": "junction.analytics.tasks.apply_retention",
            "schedule": crontab(hour=2, minute=7),
            **on_its_queue,
        },
    }


def test_it_builds_every_job_once_per_region_on_that_regions_queue():
    assert beat_schedule(["eu-west", "us-east"]) == _entries("eu-west") | _entries("us-east")
    assert beat_schedule(["us-east"]) == _entries("us-east")


def test_every_scheduled_task_exists():
    for entry in beat_schedule(["eu-west"]).values():
        assert entry["task"] in app.tasks


def test_it_schedules_the_regions_this_deployment_serves():
    # Both test passes serve both regions (see the Makefile and settings).
    assert settings.SERVED_REGIONS == ("eu-west", "us-east")
    analytics = {
        name: entry
        for name, entry in app.conf.beat_schedule.items()
        if name.startswith("analytics-")
    }
    assert analytics == _entries("eu-west") | _entries("us-east")


def test_it_enqueues_each_beat_entry_to_its_regions_queue(sent):
    scheduler = Scheduler(app=app, lazy=True)
    scheduler.merge_inplace(app.conf.beat_schedule)
    for name in ("analytics-rollup-eu-west", "analytics-detect-us-east"):
        scheduler.apply_async(scheduler.schedule[name], advance=False)
    assert sent == [
        ("junction.analytics.tasks.sweep_dirty_windows", {"region": "eu-west"}, "region.eu-west"),
        ("junction.analytics.tasks.detect_anomalies", {"region": "us-east"}, "region.us-east"),
    ]


def test_it_routes_a_region_task_to_its_regions_queue(sent):
    tasks.deliver_alert.delay(region="us-east", delivery_id=7)
    assert sent == [
        (
            "junction.analytics.tasks.deliver_alert",
            {"region": "us-east", "delivery_id": 7},
            "region.us-east",
        )
    ]


def test_the_scheduled_sweep_rolls_up_recent_buckets_no_request_announced(eu_site):
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    store_buckets(region="eu-west", site_id=eu_site.pk, start=start, minutes=30, counts=COUNTS)
    # The task ingest sends rolls up marks only; the beat's sweep finds the unmarked hour.
    assert tasks.rollup_dirty_windows.delay(region="eu-west").get() == 0
    assert tasks.sweep_dirty_windows.delay(region="eu-west").get() == 1
    assert Rollup.objects.in_region("eu-west").get(period=Period.HOUR).count == 60


def test_it_refuses_a_task_for_a_region_its_worker_does_not_consume(eu_site, us_site, monkeypatch):
    monkeypatch.setattr(region_tasks, "_worker_regions", frozenset({"eu-west"}))
    start = datetime(2026, 11, 24, tzinfo=UTC)
    store_buckets(region="us-east", site_id=us_site.pk, start=start, minutes=5, counts=COUNTS)
    DirtyWindow(region="us-east", site_id=us_site.pk, start=start, marked_at=start).save()
    with pytest.raises(Reject):
        tasks.rollup_dirty_windows.run(region="us-east")
    assert DirtyWindow.objects.in_region("us-east").get().state == DirtyWindow.State.PENDING
    assert not Rollup.objects.in_region("us-east").exists()


def test_it_rolls_up_and_detects_from_the_command_line(eu_site, capsys):
    start = datetime(2026, 11, 24, 6, tzinfo=UTC)
    store_buckets(region="eu-west", site_id=eu_site.pk, start=start, minutes=120, counts=COUNTS)
    call_command(
        "analytics_run",
        "--region",
        "eu-west",
        "--since",
        "2026-11-24T06:00",
        "--until",
        "2026-11-24T08:00",
    )
    assert "eu-west: " in capsys.readouterr().out
    assert sorted(
        Rollup.objects.in_region("eu-west")
        .filter(period=Period.HOUR)
        .values_list("count", flat=True)
    ) == [120, 120]


def test_the_command_reports_as_json(eu_site, capsys):
    start = datetime(2026, 11, 24, 6, tzinfo=UTC)
    store_buckets(region="eu-west", site_id=eu_site.pk, start=start, minutes=60, counts=COUNTS)
    call_command(
        "analytics_run",
        "--region",
        "eu-west",
        "--since",
        "2026-11-24T06:00",
        "--until",
        "2026-11-24T07:00",
        "--json",
    )
    report = json.loads(capsys.readouterr().out)
    assert report["region"] == "eu-west" and report["sites"] == 1
    # One counter, direction and road user: a rollup for each of 4 quarters, the hour, the day.
    assert report["rollups"] == 6
    assert set(report) == {
        "region",
        "since",
        "until",
        "sites",
        "rollups",
        "dirty_ranges_recomputed",
        "windows_judged",
        "windows_skipped",
        "anomalies_recorded",
        "anomalies_by_kind",
    }
    # An hour of data and no past weeks: nothing can be judged yet, and it says why.
    assert report["windows_judged"] == 0
    assert report["windows_skipped"] == {"history": 4, "unwatched": 0}
