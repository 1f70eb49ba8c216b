"""Line counters with hysteresis: each road user counts at most once per line and direction.

A crossing counts only when the road user has settled on the new side: its centre is beyond a
band around the line on consecutive analysed frames, or once well past it. Box jitter on the
line, a car stopped on the line for a red light, and a few missed detections therefore never add
counts. The count takes the class the road user's votes give at that moment; by then a vehicle
has usually been seen for a second or more, so one mislabelled frame cannot decide it.

Two rules keep sparse analysis (every 4th or 5th frame) from losing vehicles: a car that comes
out of its neighbour's box starts on the side the pair was on, and when a recording ends, a
crossing one observation short of settling still counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from edge_worker.count.geometry import LineGeometry
from edge_worker.count.schema import LineSpec
from edge_worker.sightings import RoadUserView, Sightings


@dataclass(frozen=True)
class LineSettings:
    # Half-width of the undecided band, as a fraction of how far the box reaches across the
    # line, with a floor in pixels: detector jitter grows with the size of the box.
    band_fraction: float = 0.1
    band_min_px: float = 3.0
    settle_observations: int = 2  # consecutive frames beyond the band that make a side certain
    # ... or one frame this far past the line (same yardstick as the band): box jitter does not
    # move a centre by a quarter of a box, so a vehicle this far over has crossed for good. This
    # is what lets a vehicle crossing just before a recording ends, or between two sparsely
    # analysed frames, still count.
    settle_fraction: float = 0.25
    end_margin: float = 0.05  # of the line's length: crossings just past either end still count


@dataclass(frozen=True)
class Crossing:
    """A road user settled on the other side of a line."""

    line: str
    direction: str  # "in" | "out"
    user: RoadUserView
    t: float
    counted: bool  # False when this road user already counted in this direction here


@dataclass
class _Side:
    settled: int = 0  # -1 / +1 once known
    candidate: int = 0
    streak: int = 0
    last_settled_point: np.ndarray | None = None
    counted: set[str] = field(default_factory=set)


class LineCounter:
    """`trigger(sightings)` returns the crossings completed on this frame."""

    def __init__(self, spec: LineSpec, settings: LineSettings | None = None) -> None:
        self.name = spec.name
        self.settings = settings or LineSettings()
        self._line = LineGeometry(spec)
        self._sides: dict[int, _Side] = {}
        self._totals: dict[tuple[str, str], int] = {}

    @property
    def totals(self) -> dict[tuple[str, str], int]:
        """Counts so far by (direction, class)."""
        return dict(self._totals)

    def trigger(self, sightings: Sightings) -> list[Crossing]:
        s = self.settings
        distance = self._line.signed_distance(sightings.centres)
        extent = self._line.extent_across(sightings.sizes)
        band = np.maximum(s.band_min_px, s.band_fraction * extent)
        sides = np.where(np.abs(distance) < band, 0, np.sign(distance)).astype(int)
        far = np.abs(distance) >= np.maximum(band, s.settle_fraction * extent)
        self._inherit_splits(sightings.users)
        crossings = []
        for user, side, is_far, point in zip(
            sightings.users, sides.tolist(), far.tolist(), sightings.centres, strict=True
        ):
            state = self._sides.setdefault(user.key, _Side())
            if not user.fresh:
                continue
            if side == 0:
                # On the line: neither side is confirmed, and the streak has to start again.
                state.candidate, state.streak = 0, 0
                continue
            if side == state.candidate:
                state.streak += 1
            else:
                state.candidate, state.streak = side, 1
            if state.settled == side:
                state.last_settled_point = point
                continue
            if state.settled == 0:
                # The first side needs no hysteresis: there is nothing yet to be jittering from.
                state.settled, state.last_settled_point = side, point
                continue
            if state.streak < s.settle_observations and not is_far:
                continue
            if not user.confirmed:
                # Possibly a false detection: the crossing waits until the road user is confirmed
                # and is then counted if it is still on the new side.
                continue
            before = state.last_settled_point
            assert before is not None  # set together with `settled`, which is nonzero here
            state.settled, state.last_settled_point = side, point
            if self._within_ends(before, point):
                crossings.append(self._cross(user, side, sightings.t, state))
        return crossings

    def _inherit_splits(self, users: Iterable[RoadUserView]) -> None:
        """A road user that came out of a pair's box starts on the side the pair was on.

        Without this, a car that parts from its neighbour's box on the line has no known side
        and its crossing is lost. Only the side is inherited, never a count: each of the two
        cars still counts when it settles on the other side itself.
        """
        for user in users:
            parent = user.split_from
            state = self._sides.get(user.key)
            if parent is None or (state is not None and state.settled != 0):
                continue
            pair = self._sides.get(parent.key)
            if pair is not None and pair.settled != 0:
                self._sides[user.key] = _Side(
                    pair.settled, last_settled_point=pair.last_settled_point
                )

    def forget(self, users: Iterable[RoadUserView]) -> None:
        for user in users:
            self._sides.pop(user.key, None)

    def settle_at_end(
        self, users: Iterable[RoadUserView], last_frame_t: float | None
    ) -> list[Crossing]:
        """The timeline ended (a recording ran out): count crossings still being settled.

        A confirmed road user seen on the last frame beyond the band on the new side would have
        settled on the next one; at the end of a recording there is no next frame to wait for.
        This is what counts a vehicle that crosses just before a clip ends at a sparse stride.
        Road users who vanished earlier are not cut off by the end, so they are left alone.
        """
        crossings = []
        for user in users:
            state = self._sides.get(user.key)
            if state is None or not user.confirmed or state.streak == 0:
                continue
            if user.last_seen != last_frame_t:
                continue
            if state.settled != 0 and state.candidate == -state.settled:
                before = state.last_settled_point
                assert before is not None  # set together with `settled`
                if self._within_ends(before, user.centre):
                    crossings.append(self._cross(user, state.candidate, user.last_seen, state))
        return crossings

    def _within_ends(self, before: np.ndarray, after: np.ndarray) -> bool:
        # Where the path meets the line, roughly: the mid-point of the two settled positions.
        along = float(self._line.position_along(((before + after) / 2)[None])[0])
        margin = self.settings.end_margin
        return -margin <= along <= 1 + margin

    def _cross(self, user: RoadUserView, side: int, t: float, state: _Side) -> Crossing:
        # DESIGN.md section 5: `in` goes from the negative side to the positive side.
        direction = "in" if side > 0 else "out"
        counted = direction not in state.counted
        if counted:
            state.counted.add(direction)
            key = (direction, user.cls)
            self._totals[key] = self._totals.get(key, 0) + 1
        return Crossing(self.name, direction, user, t, counted)
