"""Counting: lines with direction, turning movements, zone occupancy and dwell, speeds.

The counters read road users, never decide or change them: identity is edge_worker.track's job.
"""

from edge_worker.count.counting import Counting
from edge_worker.count.lines import LineSettings
from edge_worker.count.schema import Calibration, CounterSet, LineSpec, MovementSpec, ZoneSpec

__all__ = [
    "Calibration",
    "CounterSet",
    "Counting",
    "LineSettings",
    "LineSpec",
    "MovementSpec",
    "ZoneSpec",
]
