"""Release slots: activation and rollback switch one symlink atomically, and a cut download
or a crash between steps leaves `current` naming a complete slot."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edge_worker.fleet.slots import SlotError, Slots


def _stage(slots: Slots, release: str, text: str = "model") -> None:
    (slots.staging(release) / "model.onnx").write_text(f"{text} of {release}")
    slots.commit(release)


def test_it_activates_a_slot_and_keeps_the_previous_for_a_rollback(tmp_path):
    slots = Slots(tmp_path)
    _stage(slots, "v1")
    slots.activate("v1")
    _stage(slots, "v2")
    assert slots.live() == "v1"  # committed is not live

    slots.activate("v2")
    assert (slots.live(), slots.previous()) == ("v2", "v1")
    assert (tmp_path / "current" / "model.onnx").read_text() == "model of v2"

    assert slots.rollback() == "v2"
    assert (slots.live(), slots.previous()) == ("v1", None)
    assert (tmp_path / "current" / "model.onnx").read_text() == "model of v1"


@pytest.mark.parametrize(
    ("action", "error"),
    [
        (lambda s: s.activate("v9"), "no slot for release 'v9'"),
        (lambda s: s.rollback(), "no previous release"),
        (lambda s: s.commit("v9"), "nothing staged"),
        (lambda s: s.discard("v1"), "in use"),
    ],
)
def test_it_refuses_what_would_leave_no_valid_slot(tmp_path, action, error):
    slots = Slots(tmp_path)
    _stage(slots, "v1")
    slots.activate("v1")

    with pytest.raises(SlotError, match=error):
        action(slots)
    assert slots.live() == "v1"


def test_a_cut_download_is_never_live_and_is_wiped_on_the_next_try(tmp_path):
    slots = Slots(tmp_path)
    _stage(slots, "v1")
    slots.activate("v1")
    (slots.staging("v2") / "model.onnx").write_text("half a mod")  # the power went here

    again = Slots(tmp_path)
    assert again.live() == "v1" and again.releases() == ["v1"]
    assert list(again.staging("v2").iterdir()) == []


def test_a_process_killed_while_switching_leaves_a_complete_live_slot(tmp_path):
    slots = Slots(tmp_path)
    for release in ("v1", "v2"):
        _stage(slots, release)
    slots.activate("v1")
    # A child switches back and forth as fast as it can and is killed -9 mid-way.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "from edge_worker.fleet.slots import Slots\n"
                f"s = Slots({str(tmp_path)!r})\n"
                "while True:\n"
                "    s.activate('v2'); s.activate('v1')\n"
            ),
        ]
    )
    try:
        for _ in range(200):
            live = Slots(tmp_path).live()
            assert live in ("v1", "v2")
            assert (tmp_path / "current" / "model.onnx").read_text() == f"model of {live}"
    finally:
        child.kill()
        child.wait()
    live = Slots(tmp_path).live()
    assert live in ("v1", "v2")
    assert (tmp_path / "current" / "model.onnx").read_text() == f"model of {live}"
