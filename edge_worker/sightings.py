"""Sightings: what the identity stage hands the counters, one analysed frame at a time.

detect -> identity -> count. The identity stage (edge_worker/track/identity.py) alone decides
which road user each box is, and alone writes the road-user records. The counters see them only
through `RoadUserView`, whose members are all read-only, so mypy refuses any write from a counter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class RoadUserView(Protocol):
    """One real object on the road, as the counters may read it (never write it)."""

    @property
    def key(self) -> int:
        """Stable for the road user's whole visit, across tracker id switches and hand-overs."""
        ...

    @property
    def first_seen(self) -> float: ...

    @property
    def last_seen(self) -> float: ...

    @property
    def centre(self) -> np.ndarray:
        """Box centre (x, y) in image pixels when last seen."""
        ...

    @property
    def size(self) -> np.ndarray:
        """Box (width, height) in image pixels when last seen."""
        ...

    @property
    def velocity(self) -> np.ndarray:
        """Smoothed centre velocity in pixels per second."""
        ...

    @property
    def confirmed(self) -> bool:
        """Seen often enough to count: a one-frame false detection never is."""
        ...

    @property
    def fresh(self) -> bool:
        """False when this frame repeated the previous box: no new evidence."""
        ...

    @property
    def split_from(self) -> RoadUserView | None:
        """The road user whose box this one came out of (two vehicles seen as one box)."""
        ...

    @property
    def trail(self) -> Sequence[tuple[float, float, float]]:
        """Recent (t, x, y) of the ground contact point (bottom centre), for speeds."""
        ...

    @property
    def class_id(self) -> int:
        """The detector's class id the road user's score-weighted votes give so far."""
        ...

    @property
    def cls(self) -> str:
        """The contract's class name of `class_id`."""
        ...

    def predicted_centre(self, t: float) -> np.ndarray:
        """Where the centre would be at time t, moving on at its smoothed velocity."""
        ...


@dataclass(frozen=True)
class Sightings:
    """The road users seen on one analysed frame, as parallel arrays plus their records."""

    t: float
    users: tuple[RoadUserView, ...]
    centres: np.ndarray
    feet: np.ndarray
    sizes: np.ndarray
