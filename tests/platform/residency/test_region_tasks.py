"""Region-bound tasks go to their region queue and refuse to run where it is not served."""

from __future__ import annotations

from unittest import mock

import pytest
from celery.exceptions import Reject

from junction.residency import tasks as region_tasks
from junction.residency.planes import region_queue
from junction.residency.tasks import region_task

calls: list[str] = []


@region_task(idempotent=True)
def note_region(*, region: str) -> str:
    calls.append(region)
    return region


@pytest.fixture(autouse=True)
def _clear_calls():
    calls.clear()


def test_it_routes_each_call_to_its_region_queue():
    with mock.patch("celery.app.task.Task.apply_async") as send:
        note_region.apply_async(kwargs={"region": "us-east"})
    assert send.call_args.kwargs["queue"] == region_queue("us-east") == "region.us-east"


def test_it_refuses_a_call_without_a_region():
    with pytest.raises(TypeError, match="region="):
        note_region.apply_async(kwargs={})


def test_it_runs_in_a_process_that_serves_the_region():
    assert note_region.apply(kwargs={"region": "eu-west"}).get() == "eu-west"
    assert calls == ["eu-west"]


def test_it_refuses_a_region_the_worker_does_not_consume(monkeypatch):
    monkeypatch.setattr(region_tasks, "_worker_regions", frozenset({"eu-west"}))
    result = note_region.apply(kwargs={"region": "us-east"})
    assert isinstance(result.result, Reject)
    assert calls == []


def test_it_refuses_a_region_a_pinned_node_does_not_serve(settings):
    settings.SERVED_REGIONS = ("eu-west",)
    result = note_region.apply(kwargs={"region": "us-east"})
    assert isinstance(result.result, Reject)
    assert calls == []
