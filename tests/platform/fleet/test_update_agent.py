"""The edge's update agent (edge_worker.fleet.agent) against a live platform, with the real
slots, ngclient download and signed check-in: the health gate is injected here (the worker's
own gate, over real camera processes, is tested in tests/edge_worker/test_fleet_worker.py)."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest

from edge_worker.fleet.agent import STATE_FILE, UpdateAgent
from edge_worker.fleet.download import Repository, release_fetch
from edge_worker.fleet.slots import Slots
from junction.fleet.models import RepoMetadata, TargetBlob
from junction.residency.models import AuditEvent
from tests.platform.fleet.conftest import command_json, publish

live = pytest.mark.django_db(transaction=True, databases="__all__")


class Device:
    """One device's agent, its slots and what its cameras went through."""

    def __init__(self, live_server, persona, root, folder, gate_reason=None):
        self.folder = folder
        self.restarts: list[str | None] = []
        self.gates: list[str | None] = []
        self.slots = Slots(folder / "fleet")
        self.gate_reason = gate_reason
        self.repository = Repository(
            endpoint=live_server.url,
            region="eu-west",
            device_id=persona.device_id,
            secret=persona.secret,
            trusted_root=root,
            metadata_dir=folder / "metadata",
        )
        self.agent = self.new_agent()

    def new_agent(self) -> UpdateAgent:
        """The agent a (re)started worker builds."""
        return UpdateAgent(
            repository=self.repository,
            slots=self.slots,
            state_dir=self.folder,
            restart_cameras=lambda: self.restarts.append(self.slots.live()),
            gate=self._gate,
            check_in_s=300,
            jitter_s=60,
            rng=random.Random(7),
        )

    def _gate(self, stop: threading.Event) -> str | None:
        self.gates.append(self.slots.live())
        return self.gate_reason

    def step(self) -> None:
        # The same report twice in one second is the same signature, refused as a replay; a
        # real agent checks in minutes apart, the test moves on to the next second.
        time.sleep(1.0 - time.time() % 1.0)
        self.agent.step(threading.Event())


@pytest.fixture
def root(live_server, eu_repo, tmp_path, clean_cache):
    path = tmp_path / "root.json"
    path.write_bytes(
        bytes(RepoMetadata.objects.in_region("eu-west").get(role="root", version=1).data)
    )
    return path


def _fleet() -> dict:
    return {d["device_id"]: d for d in command_json("fleet", "--region", "eu-west")["devices"]}


@live
def test_an_update_goes_from_publish_to_active(
    live_server, root, eu_device, model_path, config_patch, tmp_path
):
    device = Device(live_server, eu_device, root, tmp_path / "n")
    publish("v2", model=model_path, config=config_patch)
    command_json("rollout_start", "v2", "--region", "eu-west", "--devices", eu_device.device_id)

    device.step()

    assert device.slots.live() == "v2"
    assert device.restarts == ["v2"] and device.gates == ["v2"]
    assert (device.slots.path_of("v2") / "model.onnx").read_bytes() == model_path.read_bytes()
    row = _fleet()[eu_device.device_id]
    assert (row["installed_release"], row["state"]) == ("v2", "active")
    status = device.agent.status()
    assert (status.live, status.state, status.rollbacks) == ("v2", "active", 0)
    device.step()  # nothing new: nothing fetched or restarted again
    assert device.restarts == ["v2"]


@live
def test_a_release_failing_its_gate_is_rolled_back_and_the_rollout_halts(
    live_server, root, eu_device, eu_device_b, config_patch, tmp_path
):
    publish("v1", config=config_patch)
    command_json("rollout_start", "v1", "--region", "eu-west", "--devices", eu_device.device_id)
    canary = Device(live_server, eu_device, root, tmp_path / "n")
    canary.step()
    assert canary.slots.live() == "v1"
    publish("v2", config=config_patch)
    rollout = command_json(
        "rollout_start",
        "v2",
        "--region",
        "eu-west",
        "--devices",
        f"{eu_device.device_id},{eu_device_b.device_id}",
    )
    assert rollout["canaries"] == [eu_device.device_id]
    canary.gate_reason = "no road user counted on any camera in the 120 s health gate"

    canary.step()

    assert canary.slots.live() == "v1"  # back on the previous slot, by itself
    assert canary.restarts == ["v1", "v2", "v1"]
    row = _fleet()[eu_device.device_id]
    assert (row["installed_release"], row["state"], row["reason"]) == (
        "v1",
        "rolled_back",
        canary.gate_reason,
    )
    halted = AuditEvent.objects.in_region("eu-west").get(action="rollout_halted")
    assert "no road user counted" in halted.detail["reason"]
    other = Device(live_server, eu_device_b, root, tmp_path / "s")
    other.step()
    assert other.slots.live() is None and other.restarts == []
    canary.gate_reason = None
    canary.step()  # never installed again, even if offered
    assert canary.slots.live() == "v1" and canary.agent.status().rollbacks == 1


@live
def test_a_first_release_that_fails_falls_back_to_the_site_files_own(
    live_server, root, eu_device, config_patch, tmp_path
):
    publish("v2", config=config_patch)
    command_json("rollout_start", "v2", "--region", "eu-west", "--devices", eu_device.device_id)
    device = Device(
        live_server,
        eu_device,
        root,
        tmp_path / "n",
        gate_reason="camera north process exited with code 1 on this release",
    )

    device.step()

    assert device.slots.live() is None and device.restarts == ["v2", None]
    assert _fleet()[eu_device.device_id]["state"] == "rolled_back"


@live
def test_a_tampered_release_is_refused_and_the_cameras_never_restart(
    live_server, root, eu_device, config_patch, tmp_path
):
    publish("v2", config=config_patch)
    TargetBlob.objects.in_region("eu-west").filter(path="v2/site-patch.yaml").update(
        content=b"bucket_seconds: 60\n" + b"#" * 11
    )
    command_json("rollout_start", "v2", "--region", "eu-west", "--devices", eu_device.device_id)
    device = Device(live_server, eu_device, root, tmp_path / "n")

    device.step()

    assert device.slots.live() is None and device.restarts == [] and device.gates == []
    row = _fleet()[eu_device.device_id]
    assert row["state"] == "refused" and "LengthOrHashMismatch" in row["reason"]


@pytest.mark.parametrize(
    ("cut_in", "switched", "attempts", "live_after", "state_after"),
    [
        ("downloading", False, 0, "v2", "active"),  # fetched again from the start
        ("activating", False, 0, "v2", "active"),  # the switch never happened: done again
        ("gating", True, 1, "v2", "active"),  # judged again from the start
        ("gating", True, 2, None, "rolled_back"),  # a release that takes the worker down with it
        ("gating", False, 1, None, "rolled_back"),  # the worker could not boot on it, stepped back
    ],
)
@live
def test_a_restart_at_any_step_resumes_from_a_bootable_slot(
    live_server,
    root,
    eu_device,
    config_patch,
    tmp_path,
    cut_in,
    switched,
    attempts,
    live_after,
    state_after,
):
    publish("v2", config=config_patch)
    command_json("rollout_start", "v2", "--region", "eu-west", "--devices", eu_device.device_id)
    device = Device(live_server, eu_device, root, tmp_path / "n")
    if switched:  # the power went after the symlink switched
        release_fetch(
            device.repository, device.slots, release="v2", targets={"config": "v2/site-patch.yaml"}
        )
        device.slots.activate("v2")
    (tmp_path / "n" / STATE_FILE).write_text(
        json.dumps({"state": cut_in, "release": "v2", "gate_attempts": attempts})
    )

    device.agent = device.new_agent()
    device.agent.resume(threading.Event())
    if device.agent.status().state != "rolled_back":
        device.step()

    status = device.agent.status()
    assert (status.live or None, status.state) == (live_after, state_after)
    assert status.rollbacks == (state_after == "rolled_back")
