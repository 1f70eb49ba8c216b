"""Zones: how many road users of each class stand in an area, and how long each one stays.

A road user is placed by its ground contact point (bottom centre of the box). Entering and
leaving need consecutive frames, like line crossings, so a box flickering on the edge neither
splits one visit into two dwell times nor creates an extra movement entry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from edge_worker.count.geometry import inside_polygon
from edge_worker.count.schema import ZoneSpec
from edge_worker.events import DwellEvent, ZoneOccupancy
from edge_worker.sightings import RoadUserView, Sightings


@dataclass
class _Visit:
    inside: bool
    entered: float
    last_inside: float
    announced: bool = False  # the entry was reported (it waits for the road user's confirmation)
    streak: int = 0
    streak_began: float = 0.0


class ZoneCounter:
    """`trigger(sightings)` returns this frame's occupancy, finished dwells and new entries."""

    def __init__(self, spec: ZoneSpec, settle_observations: int = 2) -> None:
        self.name = spec.name
        self._polygon = np.asarray(spec.polygon, dtype=np.float64)
        self._settle = settle_observations
        self._visits: dict[int, _Visit] = {}

    def trigger(
        self, sightings: Sightings
    ) -> tuple[list[ZoneOccupancy], list[DwellEvent], list[RoadUserView]]:
        t = sightings.t
        inside = inside_polygon(sightings.feet, self._polygon)
        occupants: Counter[str] = Counter()
        dwells, entered = [], []
        for user, is_inside in zip(sightings.users, inside.tolist(), strict=True):
            if is_inside and user.confirmed:
                occupants[user.cls] += 1
            visit = self._visits.get(user.key)
            if visit is None:
                # The side a road user is first seen on needs no hysteresis.
                visit = self._visits[user.key] = _Visit(is_inside, t, t)
            elif not user.fresh:
                pass  # a repeated frame neither confirms nor breaks a streak
            elif is_inside != visit.inside:
                if visit.streak == 0:
                    visit.streak_began = t
                visit.streak += 1
                if visit.streak >= self._settle:
                    visit.inside, visit.streak = is_inside, 0
                    if is_inside:
                        # The visit began when the road user first stood inside, not when
                        # the hysteresis was satisfied.
                        visit.entered, visit.announced = visit.streak_began, False
                    elif visit.announced:
                        dwells.append(self._dwell(user, visit, t))
            else:
                visit.streak = 0
            if visit.inside and is_inside:
                visit.last_inside = t
            if visit.inside and user.confirmed and not visit.announced:
                visit.announced = True
                entered.append(user)
        # Only classes present are listed; a class absent on a frame had zero objects there.
        occupancy = [ZoneOccupancy(self.name, cls, n, t) for cls, n in sorted(occupants.items())]
        return occupancy, dwells, entered

    def forget(self, users: Iterable[RoadUserView], t: float) -> list[DwellEvent]:
        """Close the visits of road users who left the scene; they end where last seen inside."""
        dwells = []
        for user in users:
            visit = self._visits.pop(user.key, None)
            if visit is not None and visit.inside and visit.announced:
                dwells.append(self._dwell(user, visit, t))
        return dwells

    def _dwell(self, user: RoadUserView, visit: _Visit, t: float) -> DwellEvent:
        return DwellEvent(self.name, user.cls, visit.last_inside - visit.entered, t)
