"""Counting: lines with direction, turning movements, zone occupancy and dwell, speeds."""

from edge_worker.count.counting import Counting
from edge_worker.count.lines import LineSettings
from edge_worker.count.road_users import RoadUserSettings
from edge_worker.count.schema import Calibration, CounterSet, LineSpec, MovementSpec, ZoneSpec

__all__ = [
    "Calibration",
    "CounterSet",
    "Counting",
    "LineSettings",
    "LineSpec",
    "MovementSpec",
    "RoadUserSettings",
    "ZoneSpec",
]
