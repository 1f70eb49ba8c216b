"""The beat schedule, built in code: every analytics job once per served region, each entry
sent to that region's queue. Imported by settings, so it must not import Django models."""

from __future__ import annotations

from collections.abc import Iterable

from celery.schedules import crontab

from junction.residency.planes import region_queue

ROLLUP_EVERY_SECONDS = 300
DETECT_EVERY_SECONDS = 900

# (job name, task, schedule); the task names are those region_task gives analytics.tasks.
JOBS = (
    # The rollup job is the sweep: ingest rolls up what it marks, beat catches what was missed.
    ("rollup", "junction.analytics.tasks.sweep_dirty_windows", ROLLUP_EVERY_SECONDS),
    ("detect", "junction.analytics.tasks.detect_anomalies", DETECT_EVERY_SECONDS),
    # At night local to most deployments, and well clear of the quarter-hour detection runs.
    ("retention", "junction.analytics.tasks.apply_retention", crontab(hour=2, minute=7)),
)


def beat_schedule(regions: Iterable[str]) -> dict[str, dict]:
    return {
        f"analytics-{job}-{code}": {
            "task": task,
            "schedule": every,
            "kwargs": {"region": code},
            "options": {"queue": region_queue(code)},
        }
        for code in regions
        for job, task, every in JOBS
    }
