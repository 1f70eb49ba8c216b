"""All counting stages of one camera, fed with tracks and returning one FrameResult per frame."""

from __future__ import annotations

from collections.abc import Callable

from edge_worker.count.lines import Crossing, LineCounter, LineSettings
from edge_worker.count.movements import MovementCounter
from edge_worker.count.road_users import RoadUser, RoadUserRegister, RoadUserSettings
from edge_worker.count.schema import CounterSet
from edge_worker.count.speed import GroundPlane
from edge_worker.count.zones import ZoneCounter
from edge_worker.detections import Detections
from edge_worker.events import CountEvent, DwellEvent, FrameResult


class Counting:
    """`update(tracks, t)` runs lines, zones and movements on one frame's confirmed tracks."""

    def __init__(
        self,
        counters: CounterSet,
        line_settings: LineSettings | None = None,
        road_user_settings: RoadUserSettings | None = None,
    ) -> None:
        self._register = RoadUserRegister(road_user_settings)
        self._lines = [LineCounter(spec, line_settings) for spec in counters.lines]
        self._zones = [ZoneCounter(spec) for spec in counters.zones]
        self._movements = MovementCounter(counters.movements)
        self._ground = GroundPlane(counters.calibration) if counters.calibration else None
        self._last_frame_t: float | None = None

    def update(self, tracks: Detections, t: float) -> FrameResult:
        self._last_frame_t = t
        sightings, left = self._register.update(tracks, t)
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

    def finish(self, t: float) -> FrameResult:
        """End of a recording or shutdown: count crossings being settled, close zone visits."""
        present = self._register.finish()
        last = self._last_frame_t
        events, passages = self._cross(lambda line: line.settle_at_end(present, last), t)
        events += self._movements.trigger(passages, t)
        return FrameResult(t, tuple(events), (), tuple(self._forget(present, t)))

    def _cross(
        self, crossings_of: Callable[[LineCounter], list[Crossing]], t: float
    ) -> tuple[list[CountEvent], list[tuple[str, RoadUser]]]:
        events: list[CountEvent] = []
        passages = []
        for line in self._lines:
            for crossing in crossings_of(line):
                passages.append((line.name, crossing.user))
                if crossing.counted:
                    speed = self._ground.speed_kmh(crossing.user) if self._ground else None
                    events.append(
                        CountEvent(line.name, crossing.direction, crossing.user.cls, t, speed)
                    )
        return events, passages

    def _forget(self, left: list[RoadUser], t: float) -> list[DwellEvent]:
        dwell: list[DwellEvent] = []
        for zone in self._zones:
            dwell += zone.forget(left, t)
        for line in self._lines:
            line.forget(left)
        self._movements.forget(left)
        return dwell
