"""The update agent of a running worker: check in, fetch a new release into staging while the
cameras count on the old one, activate it, restart the cameras on it, judge it over a health
gate, and roll back by itself when the gate fails.

Its state is a small JSON file written atomically on the spool's volume. A power cut at any
step leaves `current` naming a complete slot (see slots.py); at the next start the agent picks
up from what the file says: a cut download is fetched again, a cut activation is finished or
dropped, and a cut health gate is judged again from the start (twice cut: rolled back, since a
release that takes the worker down with it is what the gate is for).
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests
from tuf.api import exceptions

from edge_worker.config import ConfigError
from edge_worker.fleet.checkin import CheckinRefused, Desired, checkin
from edge_worker.fleet.download import Repository, VerificationFailed, release_fetch
from edge_worker.fleet.slots import SlotError, Slots, fsync_dir

log = logging.getLogger(__name__)

STATE_FILE = "update-agent.json"
UPDATE_STATES = (
    "current",
    "downloading",
    "activating",
    "gating",
    "active",
    "rolled_back",
    "refused",
)
# A health gate cut this many times by a restart of the worker fails.
GATE_ATTEMPTS = 2

# The gate: blocks over its window (or until the event is set) and returns why the release
# failed, or None when it is healthy.
Gate = Callable[[threading.Event], "str | None"]


@dataclass
class AgentState:
    # current | downloading | activating | gating | active | rolled_back | refused
    state: str = "current"
    release: str = ""  # the release the state is about
    reason: str = ""
    rollbacks: int = 0
    gate_attempts: int = 0
    # Releases this device rolled back or refused: never installed again.
    given_up: list[str] = field(default_factory=list)

    @property
    def reported(self) -> str:
        """The state as the check-in schema names it (the gate is part of activating)."""
        return "activating" if self.state == "gating" else self.state


@dataclass(frozen=True)
class UpdateStatus:
    """What /metrics shows: the live release, the agent's state, and its rollbacks so far."""

    live: str
    state: str
    release: str
    reason: str
    rollbacks: int


class UpdateAgent:
    def __init__(
        self,
        *,
        repository: Repository,
        slots: Slots,
        state_dir: Path,
        restart_cameras: Callable[[], None],
        gate: Gate,
        check_in_s: float,
        jitter_s: float,
        rng: random.Random | None = None,
    ) -> None:
        self.repository = repository
        self.slots = slots
        self.state_path = Path(state_dir) / STATE_FILE
        self.restart_cameras = restart_cameras
        self.gate = gate
        self.check_in_s = check_in_s
        self.jitter_s = jitter_s
        self.rng = rng or random.Random()
        self._lock = threading.Lock()
        self.state = self._load()

    def run(self, stop: threading.Event) -> None:
        """The agent's thread: resume what a restart cut, then check in until `stop`."""
        self.resume(stop)
        # A region's devices that came back from one power cut do not all call at once.
        if stop.wait(self.rng.uniform(0.0, self.jitter_s)):
            return
        while not stop.is_set():
            try:
                self.step(stop)
            except (requests.RequestException, CheckinRefused) as exc:
                log.warning(
                    "fleet check-in failed (%s); next try in about %.0f s", exc, self.check_in_s
                )
            if stop.wait(self.next_delay()):
                return

    def next_delay(self) -> float:
        return self.check_in_s + self.rng.uniform(0.0, self.jitter_s)

    def status(self) -> UpdateStatus:
        with self._lock:
            state = self.state
            return UpdateStatus(
                live=self.slots.live() or "",
                state=state.state,
                release=state.release,
                reason=state.reason,
                rollbacks=state.rollbacks,
            )

    def resume(self, stop: threading.Event) -> None:
        """Finish or undo what a restart (or a power cut) interrupted."""
        state, release = self.state.state, self.state.release
        if state == "downloading":
            # Staging is wiped at the next fetch, which resumes each target from the bytes
            # already on disk (Slots.partial); the platform offers the release again.
            self._set(state="current", reason="download cut by a restart")
        elif state == "activating":
            if self.slots.live() == release:
                self._judge(release, stop)
            else:
                self._set(state="current", reason="activation cut by a restart")
        elif state == "gating":
            if self.slots.live() != release:  # the worker stepped back from it at boot
                with self._lock:
                    self.state.rollbacks += 1
                self._give_up("rolled_back", release, "the worker could not start on it")
            elif self.state.gate_attempts >= GATE_ATTEMPTS:
                self._roll_back(
                    release, f"the worker restarted {GATE_ATTEMPTS} times during the health gate"
                )
            else:
                self._judge(release, stop)

    def step(self, stop: threading.Event) -> None:
        """One check-in; installs the desired release when it is new to this device."""
        desired = self.report()
        if (
            desired is None
            or desired.release == self.slots.live()
            or desired.release in self.state.given_up
        ):
            return
        self.install(desired, stop)
        self.report()  # the outcome now, not one interval later

    def report(self) -> Desired | None:
        with self._lock:
            state = AgentState(**asdict(self.state))
        return checkin(
            self.repository,
            installed=self.slots.live() or "",
            state=state.reported,
            release=state.release,
            reason=state.reason,
        )

    def install(self, desired: Desired, stop: threading.Event) -> None:
        release = desired.release
        log.info("fleet: fetching release %s", release)
        self._set(state="downloading", release=release, reason="")
        try:
            release_fetch(self.repository, self.slots, release=release, targets=desired.targets)
        except VerificationFailed as exc:
            log.error("fleet: release %s refused: %s", release, exc)
            self._give_up("refused", release, str(exc))
            return
        except (exceptions.DownloadError, requests.RequestException, OSError) as exc:
            log.warning("fleet: download of %s failed (%s); tried again later", release, exc)
            self._set(state="current", reason=f"download failed: {exc}")
            return
        self._set(state="activating")
        self.slots.activate(release)
        log.info("fleet: release %s is live; restarting the cameras on it", release)
        try:
            self.restart_cameras()
        except (ConfigError, OSError) as exc:
            # Verified, but not usable here (a patch naming a file this device lacks).
            self._roll_back(release, f"the cameras cannot start on it: {exc}")
            return
        self._judge(release, stop)

    def _judge(self, release: str, stop: threading.Event) -> None:
        self._set(state="gating", gate_attempts=self.state.gate_attempts + 1)
        reason = self.gate(stop)
        if stop.is_set() and reason is None:
            return  # stopping: the gate is judged again at the next start
        if reason is not None:
            self._roll_back(release, reason)
        else:
            log.info("fleet: release %s passed its health gate", release)
            self._set(state="active", reason="", gate_attempts=0)

    def _roll_back(self, release: str, reason: str) -> None:
        log.error("fleet: release %s failed its health gate (%s); rolling back", release, reason)
        if self.slots.live() == release:
            try:
                self.slots.rollback()
            except SlotError:
                self.slots.deactivate()  # no earlier release: the site file's own is live
            self.restart_cameras()
        with self._lock:
            self.state.rollbacks += 1
        self._give_up("rolled_back", release, reason)

    def _give_up(self, state: str, release: str, reason: str) -> None:
        given_up = (
            [*self.state.given_up, release]
            if release not in self.state.given_up
            else self.state.given_up
        )
        self._set(state=state, release=release, reason=reason, gate_attempts=0, given_up=given_up)

    def _set(self, **changes: object) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(self.state, name, value)
            data = json.dumps(asdict(self.state)).encode()
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_path.with_suffix(".tmp")
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.state_path)
        fsync_dir(self.state_path.parent)

    def _load(self) -> AgentState:
        try:
            return AgentState(**json.loads(self.state_path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return AgentState()
        except (ValueError, TypeError) as exc:
            # Written atomically, so only a foreign edit gets here; start afresh, say so.
            log.error(
                "fleet: unreadable agent state %s (%s); starting afresh", self.state_path, exc
            )
            return AgentState()
