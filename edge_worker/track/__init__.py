"""Multi-object tracking: gives each detected road user a stable id across analysed frames."""

from edge_worker.track.bytetrack import ByteTracker, TrackerSettings

__all__ = ["ByteTracker", "TrackerSettings"]
