"""Identity: which road user each detection is, across analysed frames (tracker + register).

`Identity` (identity.py) is the stage the analyser runs between detection and counting; the
ByteTrack-class tracker (bytetrack.py) is its first step.
"""

from edge_worker.track.bytetrack import ByteTracker, TrackerSettings
from edge_worker.track.identity import Identity, RoadUserSettings

__all__ = ["ByteTracker", "Identity", "RoadUserSettings", "TrackerSettings"]
