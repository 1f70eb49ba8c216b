"""The update's health gate: a crash at any time fails it at once; at the window's end each
camera must be up, above the fps floor, and the cameras must have counted something. And the
agent's check-ins spread over their jitter."""

from __future__ import annotations

import threading

import pytest

from edge_worker.fleet.gate import HealthGate
from edge_worker.health import CameraReport

# The reports are built when the table is collected, maybe minutes before the gate runs.
AFTER_THE_RESTART = 4e9


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0  # one tick of the gate per reading
        return self.now


def report(**values) -> CameraReport:
    fields = {
        "camera": "north",
        "state": "running",
        "analysed_fps": 8.0,
        "count_events": 3,
        "reported_at": AFTER_THE_RESTART,
        **values,
    }
    return CameraReport(**fields)


@pytest.mark.parametrize(
    ("crashes", "reports", "reason"),
    [
        ({"north": (0, None)}, [report()], None),
        ({"north": (0, None)}, [report(state="finished", analysed_fps=0.0)], None),
        ({"north": (1, 1)}, [report()], "camera north process exited with code 1"),
        ({"north": (0, None)}, [report(analysed_fps=0.4)], "0.4 fps, below the gate's floor of 1"),
        (
            {"north": (0, None)},
            [report(count_events=0), report(camera="south", count_events=0)],
            "no road user counted on any camera in the 5 s health gate",
        ),
        ({"north": (0, None)}, [report(count_events=0), report(camera="south")], None),
        ({"north": (0, None)}, [report(state="reconnecting")], "camera north is reconnecting"),
        ({"north": (0, None)}, [report(reported_at=0.0)], "not every camera reported within 60 s"),
    ],
)
def test_it_judges_a_release(crashes, reports, reason):
    gate = HealthGate(
        window_s=5,
        min_fps=1.0,
        crashes=lambda: crashes,
        reports=lambda: reports,
        tick_s=0.001,
        clock=Clock(),
    )
    verdict = gate(threading.Event())
    if reason is None:
        assert verdict is None
    else:
        assert verdict is not None and reason in verdict


def test_a_crash_fails_the_gate_before_its_window_ends():
    clock = Clock()
    gate = HealthGate(
        window_s=1000,
        min_fps=1.0,
        crashes=lambda: {"north": (1, -9)},
        reports=lambda: [report()],
        tick_s=0.001,
        clock=clock,
    )
    assert "code -9" in (gate(threading.Event()) or "")
    assert clock.now < 5


def test_check_ins_spread_over_the_jitter(tmp_path):
    import random

    from edge_worker.fleet.agent import UpdateAgent
    from edge_worker.fleet.download import Repository
    from edge_worker.fleet.slots import Slots

    agent = UpdateAgent(
        repository=Repository(
            "https://eu-west.junction.example",
            "eu-west",
            "dev-1",
            "s",
            tmp_path / "root.json",
            tmp_path / "metadata",
        ),
        slots=Slots(tmp_path / "fleet"),
        state_dir=tmp_path,
        restart_cameras=lambda: None,
        gate=lambda stop: None,
        check_in_s=300,
        jitter_s=60,
        rng=random.Random(1),
    )
    delays = [agent.next_delay() for _ in range(200)]
    assert 300 <= min(delays) < 305 and 355 < max(delays) <= 360
