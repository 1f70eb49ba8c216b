"""A fleet update end to end: a real `python -m edge_worker run` (real camera processes, model
and footage) takes a release from the live platform at its first check-in, restarts its cameras
on it and judges it. A good release goes `active`; one that crashes the camera process and one
that counts nothing are rolled back by the worker itself and halt the rollout. Through all of it
the platform stores every bucket of the clip exactly once, as many as the worker delivered."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from junction.fleet.models import RepoMetadata
from junction.residency.models import AuditEvent
from tests.edge_worker.test_durability import (
    BUCKET_S,
    CLIP,
    DEVICE,
    EXPECTED_BUCKETS,
    camera,
    finished_and_sent,
    healthz,
    kill_hard,
    site_file,
    start_worker,
    stop_gracefully,
    wait_for,
)
from tests.platform.fleet.conftest import command_json, publish

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, databases="__all__")]

CLASSES = "classes: [person, bicycle, car, motorcycle, bus, truck]\n"  # the site file's own


# Every frame analysed, not every third: the worker takes ten seconds or more over the clip
# instead of a few, so the release arrives, restarts the camera and is judged while the clip
# still has road users to count. A camera that finished its recording before the gate opened
# leaves nothing to judge, which a live camera never does.
STRIDE = 1


def camera_patch(clip, **detector) -> str:
    """The site file's camera (on the same timeline), with another source or detector."""
    north = camera("north", clip, "stop") | {"stride": STRIDE}
    if detector:
        north["detector"] = detector
    return yaml.safe_dump({"cameras": [north]})


@pytest.fixture
def platform(live_server, fleet_keys, clean_cache):
    from junction.sites import services as site_services

    site_services.region_add(code="eu-west", name="Europe West", min_bucket_seconds=BUCKET_S)
    site_services.site_add(
        slug="main-and-5th", region="eu-west", name="Main St & 5th Ave", counters={"stop": {}}
    )
    secret = site_services.device_add(device_id=DEVICE, site="main-and-5th").secret
    call_command("fleet_init", "--region", "eu-west")
    return live_server, secret


@pytest.mark.parametrize(
    ("patch", "state", "reason"),
    [
        (lambda clip: CLASSES, "active", ""),
        # A file that is no video: the camera process dies opening it, again and again.
        (
            lambda clip: camera_patch(clip.parent / "ground_truth.json"),
            "rolled_back",
            "camera north process exited with code",
        ),
        # Nothing scores above 1.0: a detector that detects nothing.
        (
            lambda clip: camera_patch(clip, score_threshold=1.0),
            "rolled_back",
            "no road user counted",
        ),
    ],
    ids=["good", "crashing", "blind"],
)
def test_a_release_is_judged_on_the_running_worker(
    platform, model_path, videos_dir, tmp_path, patch, state, reason
):
    from junction.traffic.models import CountBucket

    server, secret = platform
    clip = videos_dir / CLIP
    config, port = fleet_device(tmp_path, patch(clip), server.url, secret, model_path, clip)

    worker = start_worker(config)
    try:
        wait_for(lambda: _device()["state"] == state, f"the release {state}", worker, config, port)
        wait_for(lambda: finished_and_sent(port), "every bucket delivered", worker, config, port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            metrics = response.read().decode()
        delivered = healthz(port)["spool"]["delivered_buckets"]
    finally:
        stop_gracefully(worker, config)

    device = _device()
    assert reason in (device["reason"] or "")
    live = "v1" if state == "active" else ""
    assert (device["installed_release"] or "") == live
    assert f'junction_edge_release{{release="{live}"}} 1.0' in metrics
    assert f'junction_edge_update_state{{release="v1",state="{state}"}} 1.0' in metrics
    rollbacks = 0 if state == "active" else 1
    assert f"junction_edge_update_rollbacks_total {rollbacks}.0" in metrics
    halted = AuditEvent.objects.in_region("eu-west").filter(action="rollout_halted")
    assert halted.exists() == (state == "rolled_back")
    # No bucket lost or twice: every bucket of the clip, once, as the worker delivered them.
    assert CountBucket.objects.in_region("eu-west").count() == EXPECTED_BUCKETS == delivered


def test_a_power_cut_during_the_health_gate_leaves_a_bootable_slot_and_the_gate_resumes(
    platform, model_path, videos_dir, tmp_path
):
    from junction.traffic.models import CountBucket

    server, secret = platform
    clip = videos_dir / CLIP
    config, port = fleet_device(tmp_path, CLASSES, server.url, secret, model_path, clip, gate_s=300)
    state = tmp_path / "device" / "update-agent.json"
    worker = start_worker(config)
    try:
        wait_for(
            lambda: state.is_file() and json.loads(state.read_text())["state"] == "gating",
            "the health gate",
            worker,
            config,
            port,
        )
    finally:
        kill_hard(worker)
    current = tmp_path / "device" / "fleet" / "current"
    assert Path(os.readlink(current)) == Path("slots/v1")
    assert (current / "site-patch.yaml").is_file()

    site = yaml.safe_load(config.read_text())
    site["fleet"]["gate_s"] = 4
    config.write_text(yaml.safe_dump(site))
    worker = start_worker(config)  # boots on v1, and judges it again from the start
    try:
        wait_for(lambda: _device()["state"] == "active", "the release active", worker, config, port)
        wait_for(lambda: finished_and_sent(port), "every bucket delivered", worker, config, port)
        delivered = healthz(port)["spool"]["delivered_buckets"]
    finally:
        stop_gracefully(worker, config)
    assert CountBucket.objects.in_region("eu-west").count() == EXPECTED_BUCKETS == delivered


def fleet_device(
    tmp_path, patch: str, endpoint: str, secret: str, model_path, clip, gate_s: float = 4
) -> tuple[Path, int]:
    """Release v1 (this patch) rolled out to the device, and its site file with a fleet section
    that checks in every second."""
    (tmp_path / "patch.yaml").write_text(patch)
    publish("v1", config=tmp_path / "patch.yaml")
    command_json("rollout_start", "v1", "--region", "eu-west", "--devices", DEVICE)
    config, port = site_file(tmp_path / "device", model_path, clip, endpoint, secret)
    (tmp_path / "device" / "root.json").write_bytes(
        bytes(RepoMetadata.objects.in_region("eu-west").get(role="root", version=1).data)
    )
    site = yaml.safe_load(config.read_text())
    site["cameras"][0]["stride"] = STRIDE
    site["fleet"] = {
        "slots": "fleet",
        "trusted_root": "root.json",
        "check_in_s": 1,
        "jitter_s": 0,
        "gate_s": gate_s,
        "gate_min_fps": 0.5,
    }
    config.write_text(yaml.safe_dump(site))
    return config, port


def _device() -> dict:
    devices = command_json("fleet", "--region", "eu-west")["devices"]
    return devices[0] if devices else {"state": ""}
