"""Synthetic tracks through the identity stage and the counters, with no detector or tracker.

The counting tests write their tracks by hand (boxes with tracker ids, id switches included), so
the identity stage's tracker step is replaced by one that passes them on unchanged; the road-user
register and the counters are the real ones, wired as the analyser wires them.
"""

from __future__ import annotations

from edge_worker.count import CounterSet, Counting
from edge_worker.detections import Detections
from edge_worker.events import FrameResult
from edge_worker.track import Identity


class GivenTracks:
    """A tracker whose input already carries the tracker ids: it passes them on unchanged."""

    def update(self, detections: Detections, t: float) -> Detections:
        return detections


class TrackCounting:
    """Identity (from given tracks) then counting, as `Analyser` runs them after the detector."""

    def __init__(self, counters: CounterSet) -> None:
        self.identity = Identity(GivenTracks())
        self.counting = Counting(counters)

    def update(self, tracks: Detections, t: float) -> FrameResult:
        sightings, left = self.identity.update(tracks, t)
        return self.counting.update(sightings, left)

    def finish(self, t: float) -> FrameResult:
        return self.counting.finish(self.identity.finish(), t)
