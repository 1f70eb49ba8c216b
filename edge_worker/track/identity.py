"""Identity: the one stage that decides which road user each detection is.

detect -> identity -> count. The stage has two steps, both owned here:

1. The tracker (ByteTracker, edge_worker/track/bytetrack.py) links boxes from frame to frame
   under tracker ids.
2. Tracker ids are not identities. A tracker may hand a new id to the same vehicle (an id switch,
   often right at a line where boxes merge) or give an old id to a new vehicle. The stage's
   register turns tracks into road users that are never mixed: a reused id after a long gap or an
   impossible jump starts a new road user, and a fresh id that appears where a road user just
   vanished takes over that road user, so its line sides, movement history and class votes carry
   on. It also marks a young road user whose box came out of a confirmed one's (a split).

Only this module creates or changes a `RoadUser`. The counters receive `Sightings` and read
road users through `RoadUserView` (edge_worker/sightings.py), which has no setters.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import count
from typing import Protocol

import numpy as np

from edge_worker.detections import CLASS_NAMES, Detections
from edge_worker.sightings import RoadUserView, Sightings
from edge_worker.track.bytetrack import ByteTracker

# Classes a detector confuses with each other on one vehicle; a hand-over may join a car track
# to a truck track, never a vehicle to a person or a bicycle.
_VEHICLE = frozenset({2, 3, 5, 7})


def _family(class_id: int) -> object:
    return "vehicle" if class_id in _VEHICLE else class_id


class Tracker(Protocol):
    """The identity stage's first step: links boxes across frames under tracker ids."""

    def update(self, detections: Detections, t: float) -> Detections: ...


@dataclass
class RoadUser:
    """The identity stage's own record of a road user; everyone else reads a RoadUserView."""

    key: int
    first_seen: float
    last_seen: float
    centre: np.ndarray
    size: np.ndarray
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    sightings: int = 0
    confirmed: bool = False
    # False when this frame showed exactly the previous box: a camera or a recording that
    # repeats frames gives no new evidence, so it must not speed up confirmation or settling.
    fresh: bool = True
    votes: dict[int, float] = field(default_factory=dict)
    # (t, x, y) of the ground contact point (bottom centre), kept briefly for speed estimates.
    trail: deque[tuple[float, float, float]] = field(default_factory=lambda: deque(maxlen=64))
    # The road user whose box this one came out of: two vehicles side by side are often
    # detected as one box, which comes apart later, maybe right at a line. Set while this road
    # user is new, so that the counters can start it where the pair was.
    split_from: RoadUser | None = None

    @property
    def class_id(self) -> int:
        # Score-weighted vote over the whole life so far: one car called truck on a few frames
        # stays a car, and its count is never split between two classes.
        return max(self.votes.items(), key=lambda item: (item[1], -item[0]))[0]

    @property
    def cls(self) -> str:
        return CLASS_NAMES[self.class_id]

    def predicted_centre(self, t: float) -> np.ndarray:
        return self.centre + self.velocity * (t - self.last_seen)


@dataclass(frozen=True)
class RoadUserSettings:
    reuse_gap_seconds: float = 2.0  # an id silent for longer than this is a new road user
    handover_seconds: float = 1.0  # how recently a road user may have vanished to be taken over
    handover_radius: float = 0.5  # of the box diagonal, around the road user's predicted centre
    jump_diagonals: float = 2.0  # a move farther than this many diagonals is another object
    # A hand-over joins boxes of about one size (diagonals within this factor): a pickup is no
    # continuation of a small box, a fragment or a parked object, that vanished near where the
    # smoothed velocity of its jitter happens to point.
    handover_size_ratio: float = 2.0
    forget_seconds: float = 3.0  # a road user unseen this long has left the scene
    # Sightings before a road user may count: a one-frame false detection never does.
    min_sightings: int = 3
    # A new box came out of a confirmed road user's box when at least this share of it lay
    # inside that box on the previous frame, and that box shrank to at most this share of its
    # area as they parted. A fragment flickering on a vehicle leaves the vehicle's box whole.
    split_inside: float = 0.6
    split_shrink: float = 0.75
    split_young_sightings: int = 3  # how new a road user must be to have come out of a pair


class Identity:
    """`update(detections, t)` returns this frame's sightings and the road users who left.

    The tracker runs first (a ByteTracker unless another is given, e.g. one that passes on
    synthetic tracks in tests); the register then decides which road user each track is.
    """

    def __init__(
        self, tracker: Tracker | None = None, settings: RoadUserSettings | None = None
    ) -> None:
        self._tracker: Tracker = ByteTracker() if tracker is None else tracker
        self.settings = settings or RoadUserSettings()
        self._keys = count(1)
        self._by_track: dict[int, RoadUser] = {}
        self._active: dict[int, RoadUser] = {}

    def update(self, detections: Detections, t: float) -> tuple[Sightings, list[RoadUserView]]:
        """Frames must come in time order; t is in seconds."""
        return self._register(self._tracker.update(detections, t), t)

    def finish(self) -> list[RoadUserView]:
        """Every road user still present, at the end of a recording or a shutdown."""
        present: list[RoadUserView] = list(self._active.values())
        self._active.clear()
        self._by_track.clear()
        return present

    def _register(self, tracks: Detections, t: float) -> tuple[Sightings, list[RoadUserView]]:
        centres = tracks.centres.astype(np.float64)
        sizes = (tracks.xyxy[:, 2:] - tracks.xyxy[:, :2]).astype(np.float64)
        previous_boxes = {key: _box(u.centre, u.size) for key, u in self._active.items()}
        feet = np.column_stack((centres[:, 0], tracks.xyxy[:, 3]))
        track_ids = tracks.tracker_ids.tolist()
        # Known ids first, so that a new id can never take over a road user who is in fact
        # still visible under its own id on this very frame.
        users: list[RoadUser | None] = []
        for i, track_id in enumerate(track_ids):
            user = self._by_track.get(track_id)
            if user is not None and not self._same_object(user, centres[i], sizes[i], t):
                user = None
            users.append(user)
        present = {user.key for user in users if user is not None}
        for i, track_id in enumerate(track_ids):
            class_id = int(tracks.class_ids[i])
            user = users[i]
            if user is None:
                user = self._take_over(centres[i], sizes[i], class_id, t, present)
            if user is None:
                user = RoadUser(next(self._keys), t, t, centres[i], sizes[i])
                self._active[user.key] = user
            present.add(user.key)
            users[i] = user
            self._by_track[track_id] = user
            self._observe(user, centres[i], sizes[i], feet[i], class_id, float(tracks.scores[i]), t)
            user.confirmed = user.sightings >= self.settings.min_sightings
        seen = [user for user in users if user is not None]
        self._find_splits(seen, previous_boxes)
        left: list[RoadUserView] = [
            u for u in self._active.values() if t - u.last_seen > self.settings.forget_seconds
        ]
        for gone in left:
            del self._active[gone.key]
        gone_keys = {gone.key for gone in left}
        self._by_track = {k: u for k, u in self._by_track.items() if u.key not in gone_keys}
        return Sightings(t, tuple(seen), centres, feet, sizes), left

    def _find_splits(self, seen: list[RoadUser], previous: dict[int, np.ndarray]) -> None:
        """Mark young road users whose box just came out of a confirmed one's box.

        The pair's box may shrink to one car a frame or two after the other car got its own
        box, so every young road user is checked while it is new, not only on its first frame.
        """
        s = self.settings
        parents = [
            u
            for u in seen
            if u.confirmed
            and u.key in previous
            and np.prod(u.size) <= s.split_shrink * _area(previous[u.key])
        ]
        for user in seen:
            if user.split_from is not None or user.sightings > s.split_young_sightings:
                continue
            box = _box(user.centre, user.size)
            for parent in parents:
                if parent is not user and _overlap(box, previous[parent.key]) >= (
                    s.split_inside * _area(box)
                ):
                    user.split_from = parent
                    break

    def _same_object(self, user: RoadUser, centre: np.ndarray, size: np.ndarray, t: float) -> bool:
        if t - user.last_seen > self.settings.reuse_gap_seconds:
            return False
        jump = np.hypot(*(centre - user.predicted_centre(t)))
        return jump <= self.settings.jump_diagonals * np.hypot(*np.maximum(size, user.size))

    def _take_over(
        self, centre: np.ndarray, size: np.ndarray, class_id: int, t: float, taken: set[int]
    ) -> RoadUser | None:
        """The nearest road user who just vanished where this new track appears, if any."""
        radius = self.settings.handover_radius * np.hypot(*size)
        candidates = []
        for user in self._active.values():
            # Only a confirmed road user has a history worth carrying on; a fragment of a box
            # that flickered for a frame or two must not lend its side of the line to a newcomer.
            if user.key in taken or not user.confirmed:
                continue
            if t - user.last_seen > self.settings.handover_seconds:
                continue
            if _family(user.class_id) != _family(class_id):
                continue
            growth = np.hypot(*size) / max(np.hypot(*user.size), 1e-9)
            if max(growth, 1 / max(growth, 1e-9)) > self.settings.handover_size_ratio:
                continue
            distance = np.hypot(*(centre - user.predicted_centre(t)))
            if distance <= radius:
                candidates.append((distance, user.key, user))
        if not candidates:
            return None
        # The old id no longer speaks for this road user; if it comes back it is someone new.
        user = min(candidates)[2]
        self._by_track = {k: u for k, u in self._by_track.items() if u is not user}
        return user

    @staticmethod
    def _observe(
        user: RoadUser,
        centre: np.ndarray,
        size: np.ndarray,
        foot: np.ndarray,
        class_id: int,
        score: float,
        t: float,
    ) -> None:
        user.fresh = user.sightings == 0 or not (
            np.array_equal(centre, user.centre) and np.array_equal(size, user.size)
        )
        if not user.fresh:
            user.last_seen = t
            return
        if t > user.last_seen:
            # Smoothed so one jittery box does not throw the hand-over prediction off.
            step = (centre - user.centre) / (t - user.last_seen)
            user.velocity = step if not user.trail else 0.5 * user.velocity + 0.5 * step
        user.centre, user.size, user.last_seen = centre, size, t
        user.sightings += 1
        user.votes[class_id] = user.votes.get(class_id, 0.0) + max(score, 1e-3)
        user.trail.append((t, float(foot[0]), float(foot[1])))


def _box(centre: np.ndarray, size: np.ndarray) -> np.ndarray:
    return np.concatenate((centre - size / 2, centre + size / 2))


def _area(box: np.ndarray) -> float:
    return float(np.prod(np.clip(box[2:] - box[:2], 0, None)))


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    return _area(np.concatenate((np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:]))))
