"""The site file as the live release makes it (edge_worker.fleet.live): the release's patch and
model over the site file's, and a worker that boots on a release its cameras cannot start on
steps back to the one before, or to the site file's own."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from edge_worker.config import load_config
from edge_worker.fleet.live import boot_site_file
from edge_worker.fleet.slots import Slots

CAMERA = {"name": "north", "source": "clip.mp4"}


@pytest.fixture
def site(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"\x00")
    (tmp_path / "model.onnx").write_bytes(b"site model")
    (tmp_path / "secret").write_text("s")
    path = tmp_path / "site.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "device_id": "dev-1",
                "site": "main-and-5th",
                "region": "eu-west",
                "endpoint": "https://eu-west.junction.example",
                "secret_file": "secret",
                "model": {
                    "path": "model.onnx",
                    "sha256": hashlib.sha256(b"site model").hexdigest(),
                },
                "spool": {"path": "spool.db"},
                "cameras": [CAMERA],
                "fleet": {"slots": "fleet", "trusted_root": "root.json"},
            }
        )
    )
    return str(path)


def release(
    slots: Slots, name: str, *, patch: dict | None = None, model: bytes | None = None
) -> None:
    staged = slots.staging(name)
    if patch is not None:
        (staged / "site-patch.yaml").write_text(yaml.safe_dump(patch))
    if model is not None:
        (staged / "model.onnx").write_bytes(model)
    slots.commit(name)
    slots.activate(name)


BROKEN = {"cameras": [{**CAMERA, "source": "only-on-the-publisher.mp4"}]}


@pytest.mark.parametrize(
    ("releases", "live", "bucket_seconds", "model"),
    [
        ([], None, 60, b"site model"),
        ([("v1", {"bucket_seconds": 120}, b"release model")], "v1", 120, b"release model"),
        ([("v1", {"bucket_seconds": 120}, None), ("v2", BROKEN, b"x")], "v1", 120, b"site model"),
        ([("v1", BROKEN, None)], None, 60, b"site model"),
    ],
    ids=["no release", "a release", "a broken one over v1", "a broken first one"],
)
def test_the_worker_boots_on_the_live_release_or_the_one_before(
    site, tmp_path, releases, live, bucket_seconds, model
):
    slots = Slots(tmp_path / "fleet")
    for name, patch, model_bytes in releases:
        release(slots, name, patch=patch, model=model_bytes)

    site_file, config = boot_site_file(site, load_config(site))

    assert slots.live() == live
    assert site_file == (site if live is None else str(tmp_path / "fleet" / f"site-{live}.yaml"))
    reread = load_config(site_file)  # what the camera processes read
    for seen in (config, reread):
        assert seen.bucket_seconds == bucket_seconds
        assert seen.model.path.read_bytes() == model
        assert seen.model.sha256 == hashlib.sha256(model).hexdigest()
        assert seen.cameras[0].source == str(tmp_path / "clip.mp4")
