"""Turning movements: a road user passes an entry line or zone, then an exit one (e.g. `N>E`)."""

from __future__ import annotations

from collections.abc import Iterable

from edge_worker.count.schema import MovementSpec
from edge_worker.events import CountEvent
from edge_worker.sightings import RoadUserView


class MovementCounter:
    """`trigger(passages, t)` turns this frame's gate passages into movement counts."""

    def __init__(self, specs: list[MovementSpec]) -> None:
        self._specs = list(specs)
        self._passed: dict[int, set[str]] = {}  # road user -> gates passed so far, in any order
        self._counted: dict[int, set[str]] = {}

    def trigger(self, passages: Iterable[tuple[str, RoadUserView]], t: float) -> list[CountEvent]:
        events = []
        for gate, user in passages:
            passed = self._passed.setdefault(user.key, set())
            for spec in self._specs:
                counted = self._counted.setdefault(user.key, set())
                if spec.exit == gate and spec.entry in passed and spec.name not in counted:
                    counted.add(spec.name)
                    events.append(CountEvent(spec.name, None, user.cls, t, None))
            # Added after the check, so passing the exit before the entry never counts.
            passed.add(gate)
        return events

    def forget(self, users: Iterable[RoadUserView]) -> None:
        for user in users:
            self._passed.pop(user.key, None)
            self._counted.pop(user.key, None)
