"""Plane geometry for counters: which side of a line a point is on, and point-in-polygon."""

from __future__ import annotations

import numpy as np

from edge_worker.count.schema import LineSpec


class LineGeometry:
    """A directed line P1 -> P2 with the DESIGN.md section 5 sign convention."""

    def __init__(self, spec: LineSpec) -> None:
        self.p1 = np.asarray(spec.p1, dtype=np.float64)
        self.direction = np.asarray(spec.p2, dtype=np.float64) - self.p1
        self.length = float(np.hypot(*self.direction))
        # Unit normal pointing to the positive side: cross(P2-P1, p-P1) > 0 (image y down).
        dx, dy = self.direction / self.length
        self.normal = np.array([-dy, dx])

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """Pixels from the line, > 0 on the side an `in` crossing ends on."""
        return (points - self.p1) @ self.normal

    def position_along(self, points: np.ndarray) -> np.ndarray:
        """0 at P1, 1 at P2; outside [0, 1] the point is beyond the end of the drawn line."""
        return (points - self.p1) @ self.direction / self.length**2

    def extent_across(self, sizes: np.ndarray) -> np.ndarray:
        """How far a box of (width, height) reaches across the line's normal."""
        return np.abs(sizes[:, 0] * self.normal[0]) + np.abs(sizes[:, 1] * self.normal[1])


def inside_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule for many points (N, 2) against one polygon (M, 2)."""
    if len(points) == 0:
        return np.zeros(0, dtype=bool)
    x, y = points[:, :1], points[:, 1:]
    ax, ay = polygon[:, 0], polygon[:, 1]
    bx, by = np.roll(ax, -1), np.roll(ay, -1)
    straddles = (ay > y) != (by > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = ax + (y - ay) * (bx - ax) / (by - ay)
    return np.count_nonzero(straddles & (x < x_cross), axis=1) % 2 == 1
