"""The edge's side (edge_worker.fleet) against a live platform: a device learns its release at
check-in, fetches and verifies it through ngclient into a slot, activates it and reports it
active; a tampered target is refused and the live slot stays as it was."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edge_worker.fleet.checkin import CheckinRefused
from edge_worker.fleet.checkin import checkin as edge_checkin
from edge_worker.fleet.download import Repository, VerificationFailed, release_fetch
from edge_worker.fleet.slots import Slots
from junction.fleet.models import RepoMetadata, TargetBlob
from tests.platform.fleet.conftest import command_json, publish

live = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def device_repo(live_server, eu_repo, eu_device, tmp_path, clean_cache) -> Repository:
    root = tmp_path / "root.json"
    root.write_bytes(
        bytes(RepoMetadata.objects.in_region("eu-west").get(role="root", version=1).data)
    )
    return Repository(
        endpoint=live_server.url,
        region="eu-west",
        device_id=eu_device.device_id,
        secret=eu_device.secret,
        trusted_root=root,
        metadata_dir=tmp_path / "metadata",
    )


@live
def test_a_device_fetches_verifies_and_activates_its_release(
    device_repo, eu_device, model_path, config_patch, tmp_path
):
    publish("v2", model=model_path, config=config_patch)
    command_json("rollout_start", "v2", "--region", "eu-west", "--devices", eu_device.device_id)
    desired = edge_checkin(device_repo, installed="", state="current")
    assert desired is not None and desired.release == "v2"
    slots = Slots(tmp_path / "device")

    edge_checkin(device_repo, installed="", state="downloading", release="v2")
    slot = release_fetch(device_repo, slots, release=desired.release, targets=desired.targets)
    slots.activate("v2")
    edge_checkin(device_repo, installed="v2", state="active", release="v2")

    assert (slot / "model.onnx").read_bytes() == model_path.read_bytes()
    assert (
        (tmp_path / "device" / "current" / "site-patch.yaml")
        .read_text()
        .startswith("bucket_seconds: 120")
    )
    fleet = command_json("fleet", "--region", "eu-west")["devices"]
    assert [(d["device_id"], d["installed_release"], d["state"]) for d in fleet] == [
        (eu_device.device_id, "v2", "active")
    ]


@live
def test_a_device_checking_in_at_another_region_is_refused(device_repo, us_repo):
    with pytest.raises(CheckinRefused, match="wrong_region") as refused:
        edge_checkin(replace(device_repo, region="us-east"), installed="", state="current")
    assert refused.value.status == 403


@live
def test_a_tampered_target_is_never_installed(device_repo, config_patch, tmp_path):
    publish("v1", config=config_patch)
    publish("v2", config=config_patch)
    slots = Slots(tmp_path / "device")
    release_fetch(device_repo, slots, release="v1", targets={"config": "v1/site-patch.yaml"})
    slots.activate("v1")
    TargetBlob.objects.in_region("eu-west").filter(path="v2/site-patch.yaml").update(
        content=b"bucket_seconds: 60\n" + b"#" * 11
    )

    with pytest.raises(VerificationFailed, match="LengthOrHashMismatch"):
        release_fetch(device_repo, slots, release="v2", targets={"config": "v2/site-patch.yaml"})
    assert slots.releases() == ["v1"] and slots.live() == "v1"


@live
def test_a_target_of_another_release_is_refused(device_repo, config_patch, tmp_path):
    publish("v1", config=config_patch)
    slots = Slots(tmp_path / "device")

    with pytest.raises(VerificationFailed, match="signed for release 'v1'"):
        release_fetch(device_repo, slots, release="v2", targets={"config": "v1/site-patch.yaml"})
    assert slots.releases() == []
