"""`python -m edge_worker releases --config site.yaml --json`: the slots and the live one."""

from __future__ import annotations

import json

from edge_worker.__main__ import main
from edge_worker.fleet.slots import Slots
from tests.edge_worker.test_config import site, write  # noqa: F401 - `site` is a fixture


def test_it_lists_the_slots_and_which_is_live(tmp_path, site, capsys):  # noqa: F811
    slots = Slots(tmp_path / "releases")
    for release in ("v1", "v2"):
        (slots.staging(release) / "model.onnx").write_bytes(b"m")
        slots.commit(release)
        slots.activate(release)
    path = write(tmp_path, {**site, "fleet": {"slots": "releases", "trusted_root": "root.json"}})

    assert main(["releases", "--config", path, "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert (listing["live"], listing["previous"]) == ("v2", "v1")
    assert listing["slots"] == [
        {"release": "v1", "live": False, "previous": True, "files": ["model.onnx"]},
        {"release": "v2", "live": True, "previous": False, "files": ["model.onnx"]},
    ]


def test_it_says_when_the_site_takes_no_releases(tmp_path, site, capsys):  # noqa: F811
    assert main(["releases", "--config", write(tmp_path, site), "--json"]) == 1
    assert "no `fleet` section" in capsys.readouterr().err
