"""Rollouts through the operator commands and the devices' signed check-ins: canary first,
promotion, halt on rollbacks, pause, resume and abort, all in the region's audit log."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError

from junction.residency.models import AuditEvent
from tests.platform.fleet.conftest import checkin, command_json, publish


@pytest.fixture
def v2(eu_repo, config_patch, eu_device, eu_device_b, clean_cache):
    publish("v2", config=config_patch)
    return "v2"


def _start(*extra: str) -> dict:
    return command_json("rollout_start", "v2", "--region", "eu-west", *extra)


def _fleet() -> dict:
    return {d["device_id"]: d for d in command_json("fleet", "--region", "eu-west")["devices"]}


def _audit_actions() -> list[str]:
    return list(
        AuditEvent.objects.in_region("eu-west")
        .order_by("at", "pk")
        .values_list("action", flat=True)
    )


def test_it_goes_from_publish_to_active_on_two_devices_canary_first(
    client, v2, eu_device, eu_device_b
):
    rollout = _start("--devices", f"{eu_device.device_id},{eu_device_b.device_id}")
    assert rollout["canaries"] == [eu_device.device_id]

    waiting = checkin(client, eu_device_b, state="current").json()
    assert waiting["desired"] is None  # not before the canary is active
    canary = checkin(client, eu_device, state="current").json()
    assert canary["desired"] == {"release": "v2", "targets": {"config": "v2/site-patch.yaml"}}
    assert canary["state"] == "pending"

    for state in ("downloading", "verifying", "activating"):
        assert checkin(client, eu_device, state=state, release="v2").status_code == 200
    assert _fleet()[eu_device.device_id]["state"] == "activating"
    checkin(client, eu_device, installed="v2", state="active", release="v2")

    second = checkin(client, eu_device_b, state="current").json()
    assert second["desired"]["release"] == "v2"
    checkin(client, eu_device_b, installed="v2", state="active", release="v2")

    fleet = _fleet()
    assert {d: (row["installed_release"], row["state"]) for d, row in fleet.items()} == {
        eu_device.device_id: ("v2", "active"),
        eu_device_b.device_id: ("v2", "active"),
    }
    assert fleet[eu_device.device_id]["last_checkin_at"]
    assert _audit_actions()[-3:] == ["rollout_started", "rollout_promoted", "rollout_completed"]


def test_it_halts_when_the_canary_rolls_back(client, v2, eu_device, eu_device_b):
    rollout = _start("--percent", "100")
    canary = next(d for d in (eu_device, eu_device_b) if d.device_id == rollout["canaries"][0])
    other = eu_device_b if canary is eu_device else eu_device

    checkin(client, canary, state="activating", release="v2")
    answer = checkin(
        client,
        canary,
        state="rolled_back",
        release="v2",
        reason="health gate: no detections for 120 s",
    ).json()

    assert answer["desired"] is None  # back to what it ran before
    assert checkin(client, other, state="current").json()["desired"] is None
    fleet = _fleet()
    assert fleet[canary.device_id]["state"] == "rolled_back"
    assert fleet[canary.device_id]["reason"] == "health gate: no detections for 120 s"
    halted = AuditEvent.objects.in_region("eu-west").get(action="rollout_halted")
    assert "no detections" in halted.detail["reason"]
    with pytest.raises(CommandError, match="still halted"):
        _start("--percent", "100")


def test_it_halts_on_more_than_the_share_of_rollbacks_after_the_canary(
    client, v2, eu_device, eu_device_b
):
    _start("--devices", f"{eu_device.device_id},{eu_device_b.device_id}", "--halt-share", "0.4")
    checkin(client, eu_device, installed="v2", state="active", release="v2")
    checkin(client, eu_device_b, state="rolled_back", release="v2", reason="crash loop")

    assert "rollout_halted" in _audit_actions()  # 1 of 2 is 50 % > 40 %
    # The healthy canary keeps the release; nothing is taken from it by the halt.
    assert (
        checkin(client, eu_device, installed="v2", state="active", release="v2").json()["desired"][
            "release"
        ]
        == "v2"
    )


def test_it_pauses_resumes_and_aborts(client, v2, eu_device, eu_device_b):
    rollout = _start("--devices", f"{eu_device.device_id},{eu_device_b.device_id}")
    ident = str(rollout["id"])
    paused = command_json("rollout_pause", ident, "--region", "eu-west", "--reason", "holiday")
    assert paused["state"] == "paused"

    checkin(client, eu_device, installed="v2", state="active", release="v2")
    # Paused: the canary's success offers the release to nobody else.
    assert checkin(client, eu_device_b, state="current").json()["desired"] is None

    # Resumed: the canary is active already, so the rest are offered it at once.
    assert command_json("rollout_resume", ident, "--region", "eu-west")["state"] == "running"
    assert checkin(client, eu_device_b, state="current").json()["desired"]["release"] == "v2"

    aborted = command_json("rollout_abort", ident, "--region", "eu-west", "--reason", "wrong")
    assert aborted["state"] == "aborted"
    for device in (eu_device, eu_device_b):
        assert checkin(client, device, state="current").json()["desired"] is None
    with pytest.raises(CommandError, match="is aborted"):
        command_json("rollout_resume", ident, "--region", "eu-west")
    assert [a for a in _audit_actions() if a.startswith("rollout_")] == [
        "rollout_started",
        "rollout_paused",
        "rollout_resumed",
        "rollout_promoted",
        "rollout_aborted",
    ]


def test_it_refuses_unknown_devices_and_releases(v2, us_device):
    with pytest.raises(CommandError, match="not active devices of region eu-west"):
        _start("--devices", us_device.device_id)
    with pytest.raises(CommandError, match="no release 'v9'"):
        command_json("rollout_start", "v9", "--region", "eu-west", "--percent", "50")


def test_a_device_that_rolled_back_one_release_is_offered_the_next(
    client, v2, eu_device, config_patch
):
    first = _start("--devices", eu_device.device_id)
    checkin(client, eu_device, state="rolled_back", release="v2", reason="crash loop")
    command_json("rollout_abort", str(first["id"]), "--region", "eu-west")
    publish("v3", config=config_patch)

    command_json("rollout_start", "v3", "--region", "eu-west", "--devices", eu_device.device_id)

    assert checkin(client, eu_device, state="current").json()["desired"]["release"] == "v3"
