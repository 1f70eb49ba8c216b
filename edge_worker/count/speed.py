"""Speeds from a calibrated camera: image points mapped to metres on the road by a homography.

Speeds are computed at a counted crossing and only travel inside the CountEvent to the bucket's
histogram; no speed is kept per vehicle.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge_worker.count.schema import Calibration
from edge_worker.sightings import RoadUserView

# Long enough that box jitter is small against the distance travelled, short enough that a
# vehicle braking at the stop line is measured near the line.
WINDOW_SECONDS = 1.0
MIN_SPAN_SECONDS = 0.25


class GroundPlane:
    def __init__(self, calibration: Calibration) -> None:
        image = np.asarray(calibration.image_points, dtype=np.float32)
        ground = np.asarray(calibration.ground_points_m, dtype=np.float32)
        self._to_ground = cv2.getPerspectiveTransform(image, ground)
        if not np.all(np.isfinite(self._to_ground)) or abs(np.linalg.det(self._to_ground)) < 1e-12:
            raise ValueError("calibration points are degenerate (three of them in a line?)")

    def to_metres(self, points: np.ndarray) -> np.ndarray:
        """Image pixels (N, 2) -> ground metres (N, 2)."""
        return cv2.perspectiveTransform(
            points.reshape(-1, 1, 2).astype(np.float64), self._to_ground
        ).reshape(-1, 2)

    def speed_kmh(self, user: RoadUserView) -> float | None:
        """Mean speed over the last second of the road user's ground contact point."""
        trail = np.asarray(user.trail, dtype=np.float64)
        if len(trail) < 2:
            return None
        recent = trail[trail[:, 0] >= trail[-1, 0] - WINDOW_SECONDS]
        if len(recent) < 2:
            recent = trail[-2:]
        span = recent[-1, 0] - recent[0, 0]
        if span < MIN_SPAN_SECONDS:
            return None
        ground = self.to_metres(recent[:, 1:])
        # A least-squares line through the positions damps the jitter of single boxes.
        times = recent[:, 0] - recent[0, 0]
        velocity = np.polyfit(times, ground, 1)[0]
        return float(np.hypot(*velocity) * 3.6)
