"""All counting stages of one camera, fed with sightings and returning one FrameResult per frame.

Which road user each box is has already been decided by the identity stage
(edge_worker/track/identity.py); the counters here only read road users, through RoadUserView.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from edge_worker.count.lines import Crossing, LineCounter, LineSettings
from edge_worker.count.movements import MovementCounter
from edge_worker.count.schema import CounterSet
from edge_worker.count.speed import GroundPlane
from edge_worker.count.zones import ZoneCounter
from edge_worker.events import CountEvent, DwellEvent, FrameResult
from edge_worker.sightings import RoadUserView, Sightings


class Counting:
    """`update(sightings, left)` runs lines, zones and movements on one frame's road users."""

    def __init__(self, counters: CounterSet, line_settings: LineSettings | None = None) -> None:
        self._lines = [LineCounter(spec, line_settings) for spec in counters.lines]
        self._zones = [ZoneCounter(spec) for spec in counters.zones]
        self._movements = MovementCounter(counters.movements)
        self._ground = GroundPlane(counters.calibration) if counters.calibration else None
        self._last_frame_t: float | None = None

    def update(self, sightings: Sightings, left: Sequence[RoadUserView]) -> FrameResult:
        """One frame's sightings, and the road users the identity stage saw leave the scene."""
        t = sightings.t
        self._last_frame_t = t
        events, passages = self._cross(lambda line: line.trigger(sightings), t)
        occupancy, dwell = [], []
        for zone in self._zones:
            zone_occupancy, zone_dwell, entered = zone.trigger(sightings)
            occupancy += zone_occupancy
            dwell += zone_dwell
            passages += [(zone.name, user) for user in entered]
        events += self._movements.trigger(passages, t)
        dwell += self._forget(left, t)
        return FrameResult(t, tuple(events), tuple(occupancy), tuple(dwell))

    def finish(self, present: Sequence[RoadUserView], t: float) -> FrameResult:
        """End of a recording or shutdown: count crossings being settled, close zone visits.

        `present` is every road user still on the scene (the identity stage's `finish()`).
        """
        last = self._last_frame_t
        events, passages = self._cross(lambda line: line.settle_at_end(present, last), t)
        events += self._movements.trigger(passages, t)
        return FrameResult(t, tuple(events), (), tuple(self._forget(present, t)))

    def _cross(
        self, crossings_of: Callable[[LineCounter], list[Crossing]], t: float
    ) -> tuple[list[CountEvent], list[tuple[str, RoadUserView]]]:
        events: list[CountEvent] = []
        passages: list[tuple[str, RoadUserView]] = []
        for line in self._lines:
            for crossing in crossings_of(line):
                passages.append((line.name, crossing.user))
                if crossing.counted:
                    speed = self._ground.speed_kmh(crossing.user) if self._ground else None
                    events.append(
                        CountEvent(line.name, crossing.direction, crossing.user.cls, t, speed)
                    )
        return events, passages

    def _forget(self, left: Sequence[RoadUserView], t: float) -> list[DwellEvent]:
        dwell: list[DwellEvent] = []
        for zone in self._zones:
            dwell += zone.forget(left, t)
        for line in self._lines:
            line.forget(left)
        self._movements.forget(left)
        return dwell
