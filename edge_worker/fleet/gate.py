"""The health gate a new release must pass after the cameras restarted on it: over the window no
camera process dies (a crash loop is a camera restarted by the supervisor), each live camera
analyses at least the floor's frames per second, and the cameras count something (a model that
detects nothing counts nothing)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge_worker.health import CameraReport


@dataclass
class HealthGate:
    window_s: float
    min_fps: float
    # Restarts and last exit code per camera process since the release went live.
    crashes: Callable[[], dict[str, tuple[int, int | None]]]
    reports: Callable[[], list[CameraReport]]
    tick_s: float = 1.0
    clock: Callable[[], float] = time.monotonic

    # The window opens once every camera reported from the release (loading a model and
    # opening a stream take a while on a busy box), at most this long after the restart.
    startup_s: float = 60.0

    def __call__(self, stop: threading.Event) -> str | None:
        began = time.time()
        opened: float | None = None
        deadline = self.clock() + self.startup_s
        while not stop.wait(self.tick_s):
            crashed = self._crashed()
            if crashed:
                return crashed
            if opened is None and self._all_reported(began):
                opened = time.time()
                deadline = self.clock() + self.window_s
            elif self.clock() >= deadline:
                if opened is None:
                    return f"not every camera reported within {self.startup_s:.0f} s of the restart"
                return self._verdict(opened)
        return None

    def _all_reported(self, since: float) -> bool:
        reports = self.reports()
        return bool(reports) and all(r.reported_at >= since for r in reports)

    def _crashed(self) -> str | None:
        for camera, (restarts, code) in sorted(self.crashes().items()):
            if restarts:
                return f"camera {camera} process exited with code {code} on this release"
        return None

    def _verdict(self, began: float) -> str | None:
        reports = [r for r in self.reports() if r.reported_at >= began]
        if not reports:
            return "no camera reported during the health gate"
        for r in reports:
            if r.state not in ("running", "finished"):
                return f"camera {r.camera} is {r.state} at the end of the health gate"
            if r.state == "running" and r.analysed_fps < self.min_fps:
                return (
                    f"camera {r.camera} analyses {r.analysed_fps} fps, below the gate's "
                    f"floor of {self.min_fps}"
                )
        if not any(r.count_events for r in reports):
            return (
                f"no road user counted on any camera in the {self.window_s:.0f} s health "
                "gate (a model that detects nothing)"
            )
        return None
