"""Zones: how many road users of each class stand in an area, and how long each one stays.

A road user is placed by its ground contact point (bottom centre of the box). Entering and
leaving need consecutive frames, like line crossings, so a box flickering on the edge neither
splits one visit into two dwell times nor creates an extra movement entry.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from edge_worker.count.geometry import inside_polygon
from edge_worker.count.road_users import RoadUser, Sightings
from edge_worker.count.schema import ZoneSpec
from edge_worker.events import DwellEvent, ZoneOccupancy


@dataclass
class _Visit:
    inside: bool = False
    entered: float = 0.0
    last_inside: float = 0.0
    streak: int = 0


class ZoneCounter:
    """`trigger(sightings)` returns this frame's occupancy, finished dwells and new entries."""

    def __init__(self, spec: ZoneSpec, settle_observations: int = 2) -> None:
        self.name = spec.name
        self._polygon = np.asarray(spec.polygon, dtype=np.float64)
        self._settle = settle_observations
        self._visits: dict[int, _Visit] = {}

    def trigger(
        self, sightings: Sightings
    ) -> tuple[list[ZoneOccupancy], list[DwellEvent], list[RoadUser]]:
        t = sightings.t
        inside = inside_polygon(sightings.feet, self._polygon)
        occupants: Counter[str] = Counter()
        dwells, entered = [], []
        for user, is_inside in zip(sightings.users, inside.tolist(), strict=True):
            if not user.confirmed:
                continue
            new_visitor = user.key not in self._visits
            visit = self._visits.setdefault(user.key, _Visit())
            if is_inside:
                occupants[user.cls] += 1
                visit.last_inside = t
            if is_inside == visit.inside:
                visit.streak = 0
                continue
            visit.streak += 1
            # A road user already inside when first confirmed is inside at once, as with lines.
            if visit.streak < self._settle and not new_visitor:
                continue
            visit.inside, visit.streak = is_inside, 0
            if is_inside:
                visit.entered = t
                entered.append(user)
            else:
                dwells.append(self._dwell(user, visit, t))
        # Only classes present are listed; a class absent on a frame had zero objects there.
        occupancy = [ZoneOccupancy(self.name, cls, n, t) for cls, n in sorted(occupants.items())]
        return occupancy, dwells, entered

    def forget(self, users: list[RoadUser], t: float) -> list[DwellEvent]:
        """Close the visits of road users who left the scene; they end where last seen inside."""
        dwells = []
        for user in users:
            visit = self._visits.pop(user.key, None)
            if visit is not None and visit.inside:
                dwells.append(self._dwell(user, visit, t))
        return dwells

    def _dwell(self, user: RoadUser, visit: _Visit, t: float) -> DwellEvent:
        return DwellEvent(self.name, user.cls, visit.last_inside - visit.entered, t)
