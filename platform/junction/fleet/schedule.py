"""Beat entries of the fleet: each region's snapshot and timestamp re-signed before they expire.
Imported by settings, so it must not import Django models."""

from __future__ import annotations

from collections.abc import Iterable

from junction.residency.planes import region_queue

# Hourly: the timestamp is renewed with 12 hours still to run (repository.REFRESH_WITHIN).
REFRESH_EVERY_SECONDS = 3600


def fleet_beat_schedule(regions: Iterable[str]) -> dict[str, dict]:
    return {
        f"fleet-refresh-{code}": {
            "task": "junction.fleet.tasks.refresh_metadata",
            "schedule": REFRESH_EVERY_SECONDS,
            "kwargs": {"region": code},
            "options": {"queue": region_queue(code)},
        }
        for code in regions
    }
