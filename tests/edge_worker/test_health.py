"""Health: /healthz JSON and Prometheus /metrics from camera reports, spool and uplink state."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from edge_worker.buckets import Bucket
from edge_worker.fleet.agent import UpdateStatus
from edge_worker.health import CameraReport, EdgeHealth, HealthServer
from edge_worker.spool import BatchIdentity, Spool
from edge_worker.uplink import UplinkStatus

T0 = 1_800_000_000
IDENTITY = BatchIdentity("dev-1", "main-and-5th", "eu-west", "yolox_nano", "ab" * 32)


@pytest.fixture
def served(tmp_path):
    spool = Spool(tmp_path / "spool.db", max_bytes=10_000_000)
    status = UplinkStatus(endpoint="https://eu-west.junction.example", last_success=T0 + 50)
    health = EdgeHealth(
        device_id="dev-1",
        cameras=["north"],
        spool=spool,
        uplink_status=lambda: status,
        clock=lambda: T0 + 100,
    )
    server = HealthServer(health, "127.0.0.1", 0).start()
    yield health, spool, status, f"http://127.0.0.1:{server.port}"
    server.stop()
    spool.close()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def running(**extra) -> CameraReport:
    values = dict(
        camera="north",
        state="running",
        frames_read=500,
        frames_analysed=100,
        frames_skipped=400,
        analysed_fps=5.0,
        inference_ms=14.5,
        last_frame_at=T0 + 99,
    )
    return CameraReport(**{**values, **extra})


def test_it_reports_ok_when_cameras_run_and_nothing_is_stuck(served):
    health, _, _, url = served
    health.report(running())
    status, body = get(url + "/healthz")
    data = json.loads(body)
    assert (status, data["status"], data["problems"]) == (200, "ok", [])
    assert data["cameras"]["north"]["analysed_fps"] == 5.0


def test_it_answers_503_for_a_stalled_camera(served):
    health, _, _, url = served
    health.report(running(last_frame_at=T0 + 10))
    status, body = get(url + "/healthz")
    assert status == 503 and "camera north" in json.loads(body)["problems"][0]


def test_it_shows_dead_letters_and_refused_credentials_as_degraded_without_503(served):
    health, spool, uplink, url = served
    health.report(running())
    spool.put("north", [Bucket(T0, 10, 1.0)])
    batch = spool.next_batch(IDENTITY, cameras=["north"], now=T0 + 20)
    spool.dead_letter(batch.batch_id, status=422, reason="seconds below 60", now=T0 + 21)
    uplink.credentials_refused = True
    status, body = get(url + "/healthz")
    data = json.loads(body)
    assert (status, data["status"]) == (200, "degraded")
    assert data["spool"]["dead_letters"] == 1
    assert data["spool"]["last_dead_letter_reason"] == "seconds below 60"
    assert len(data["problems"]) == 2


def test_it_exports_the_operator_metrics(served):
    health, spool, _, url = served
    health.report(running())
    spool.put("north", [Bucket(T0, 10, 1.0)])
    status, body = get(url + "/metrics")
    text = body.decode()
    assert status == 200
    for line in [
        'junction_edge_analysed_fps{camera="north"} 5.0',
        'junction_edge_inference_ms{camera="north"} 14.5',
        'junction_edge_frames_skipped_total{camera="north"} 400.0',
        "junction_edge_spool_buckets 1.0",
        "junction_edge_oldest_unsent_bucket_age_seconds 100.0",
        "junction_edge_dead_letters 0.0",
        "junction_edge_dropped_buckets_total 0.0",
        "junction_edge_last_successful_upload_timestamp_seconds 1.80000005e+09",
    ]:
        assert line in text, line


def test_it_exports_the_fleet_release_update_state_and_rollbacks(served):
    health, _, _, url = served
    assert "junction_edge_release" not in get(url + "/metrics")[1].decode()  # no fleet section
    health.update_status = lambda: UpdateStatus(
        live="v1", state="rolled_back", release="v2", reason="camera north exited", rollbacks=1
    )
    text = get(url + "/metrics")[1].decode()
    for line in [
        'junction_edge_release{release="v1"} 1.0',
        'junction_edge_update_state{release="v2",state="rolled_back"} 1.0',
        'junction_edge_update_state{release="v2",state="active"} 0.0',
        "junction_edge_update_rollbacks_total 1.0",
    ]:
        assert line in text, line


def test_it_answers_404_elsewhere(served):
    assert get(served[3] + "/admin")[0] == 404


def test_it_gives_a_camera_that_just_started_time_for_its_first_frame(served):
    health, _, _, url = served
    health.report(running(last_frame_at=None, running_since=T0 + 90))
    assert get(url + "/healthz")[0] == 200
    health.report(running(last_frame_at=None, running_since=T0 + 10))
    assert get(url + "/healthz")[0] == 503


def test_a_finished_file_stays_finished_whatever_report_was_still_on_its_way(served):
    # The camera process's last report can be lost at its exit; the supervisor, which saw it
    # exit after the file's end, says "finished", and an older report still queued cannot undo it.
    health, _, _, url = served
    health.report(running(last_frame_at=T0 + 10))
    health.camera_finished("north")
    health.report(running(last_frame_at=T0 + 10, frames_analysed=120))
    status, body = get(url + "/healthz")
    north = json.loads(body)["cameras"]["north"]
    assert (status, north["state"], north["frames_analysed"]) == (200, "finished", 120)
