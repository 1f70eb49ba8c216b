"""release_publish: a real model and patch become signed targets; bad ones are refused."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError
from tuf.api.metadata import Metadata

from junction.fleet.models import Release, RepoMetadata, TargetBlob
from junction.residency.models import AuditEvent
from tests.platform.fleet.conftest import publish


def _targets(region: str) -> dict:
    row = RepoMetadata.objects.in_region(region).filter(role="targets").order_by("-version")[0]
    return Metadata.from_bytes(bytes(row.data)).signed.targets


def test_it_publishes_a_model_and_a_patch_as_signed_targets(eu_repo, model_path, config_patch):
    answer = publish("v2", model=model_path, config=config_patch)

    assert answer["targets"] == ["v2/model.onnx", "v2/site-patch.yaml"]
    targets = _targets("eu-west")
    model = targets["v2/model.onnx"]
    assert model.length == model_path.stat().st_size
    assert model.custom["input_size"] == [416, 416]
    assert model.custom["classes"] == ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
    assert model.custom["min_worker_version"]
    assert targets["v2/site-patch.yaml"].custom["kind"] == "config"
    assert TargetBlob.objects.in_region("eu-west").count() == 2
    assert AuditEvent.objects.in_region("eu-west").filter(action="release_published").exists()


def test_it_refuses_a_model_onnx_runtime_cannot_load(eu_repo, model_path, tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(model_path.read_bytes()[: model_path.stat().st_size // 2])

    with pytest.raises(CommandError, match="does not load in ONNX Runtime"):
        publish("v2", model=broken)
    assert not Release.objects.in_region("eu-west").exists()
    assert not TargetBlob.objects.in_region("eu-west").exists()
    assert "v2/model.onnx" not in _targets("eu-west")


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ("bucket_seconds: 7\n", "must divide a day"),
        (
            "cameras:\n  - {name: n, source: 'rtsp://h/s',\n"
            "     lines: [{name: a, points: [[0, 0], [9, 9]], nmae: b}]}\n",
            "Extra inputs are not permitted",
        ),
        ("endpoint: https://elsewhere.example\n", "cannot change identity"),
        ("colour: blue\n", "colour: Extra inputs are not permitted"),
    ],
)
def test_it_refuses_a_patch_the_worker_would_refuse(eu_repo, tmp_path, patch, reason):
    path = tmp_path / "patch.yaml"
    path.write_text(patch)

    with pytest.raises(CommandError, match=reason):
        publish("v2", config=path)
    assert not Release.objects.in_region("eu-west").exists()


def test_it_refuses_a_second_release_of_the_same_name(eu_repo, config_patch):
    publish("v2", config=config_patch)
    with pytest.raises(CommandError, match="already"):
        publish("v2", config=config_patch)


def test_it_keeps_a_release_in_its_own_region(eu_repo, us_repo, config_patch):
    publish("v2", config=config_patch, region="eu-west")

    assert Release.objects.in_region("eu-west").filter(name="v2").exists()
    assert not Release.objects.in_region("us-east").exists()
    assert "v2/site-patch.yaml" not in _targets("us-east")


@pytest.mark.slow
def test_it_records_the_models_counts_on_the_sites_check_clip(eu_repo, model_path, videos_dir):
    publish(
        "v2",
        model=model_path,
        extra=[
            "--check-clip",
            str(videos_dir / "suburban_street_ahmetozlu.mp4"),
            "--check-line",
            "stop=150,200,600,200",
        ],
    )

    check = _targets("eu-west")["v2/model.onnx"].custom["counting_check"]
    assert check["clip"] == "suburban_street_ahmetozlu.mp4" and len(check["clip_sha256"]) == 64
    cars_in = sum(
        row["count"]
        for row in check["totals"]
        if (row["counter"], row["direction"], row["class"]) == ("stop", "in", "car")
    )
    # ground_truth.json: 8 cars cross toward the camera (downward, `in` for this line).
    assert abs(cars_in - 8) <= 1


@pytest.mark.slow
def test_it_refuses_a_model_that_counts_the_check_clip_otherwise_than_the_current_one(
    eu_repo, model_path, videos_dir, config_patch
):
    clip = videos_dir / "suburban_street_ahmetozlu.mp4"
    check = ["--check-clip", str(clip), "--check-line", "stop=150,200,600,200"]
    check += ["--check-stride", "4"]
    publish("v2", model=model_path, extra=check)
    # As if the current release's model had counted 11 cars where this one counts 8.
    current = Release.objects.in_region("eu-west").get(name="v2")
    recorded = current.custom["model"]["counting_check"]["totals"]
    assert [(r["counter"], r["direction"], r["count"]) for r in recorded] == [("stop", "in", 8)]
    recorded[0]["count"] = 11
    current.save()

    with pytest.raises(CommandError, match=r"stop in: 11 with v2, 8 with this model"):
        publish("v3", model=model_path, extra=check)
    with pytest.raises(CommandError, match="give the same --check-clip"):
        publish("v3", model=model_path)
    with pytest.raises(CommandError, match="cannot be compared"):
        publish("v3", model=model_path, extra=[*check[:-1], "2"])
    assert not Release.objects.in_region("eu-west").filter(name="v3").exists()

    recorded[0]["count"] = 9  # within one of 8: the same model is welcome again
    current.save()
    publish("v3", model=model_path, extra=check)
    publish("v4", config=config_patch)  # a config-only release changes no model: no check
    assert set(Release.objects.in_region("eu-west").values_list("name", flat=True)) >= {
        "v2",
        "v3",
        "v4",
    }
