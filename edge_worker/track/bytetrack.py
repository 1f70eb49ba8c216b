"""A ByteTrack-class tracker: two-stage association of strong then weak detections.

After Zhang et al., "ByteTrack" (2022): strong detections are matched first, then weak ones
rescue tracks that a blur or an occlusion made faint, instead of dropping them. Strong detections
go to tracks in order of how recently they were seen (DeepSORT's matching cascade). Time is taken
from frame timestamps, so analysing every N-th frame only lengthens the Kalman step; every buffer
(lost tracks, tentative tracks, weak rescue) is in seconds for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import lap
import numpy as np

from edge_worker.detections import Detections
from edge_worker.track import kalman

TENTATIVE, TRACKED, LOST = 0, 1, 2


@dataclass(frozen=True)
class TrackerSettings:
    # Tuned on YOLOX-Nano, whose scores for real cars at dusk sit between 0.2 and 0.5; with a
    # larger model raise these (ByteTrack's paper uses 0.6 with YOLOX-X).
    high_score: float = 0.2  # first-stage detections; also the floor for starting a track
    low_score: float = 0.1  # weaker detections only extend existing tracks
    new_track_score: float = 0.2
    first_match_iou: float = 0.2
    second_match_iou: float = 0.5
    tentative_match_iou: float = 0.3
    # Box growth per second since the previous analysed frame, capped: at 24 fps the boxes stay
    # nearly as detected, at 5 analysed fps a car's 70-pixel step still overlaps its track.
    buffer_per_second: float = 1.5
    max_buffer: float = 0.5
    tentative_takes_weak: bool = True
    min_hits: int = 2  # detections before a track is confirmed and reported
    lost_seconds: float = 1.5  # how long a vanished track may still be re-found
    # About one missed frame at 4-5 analysed fps (and a few at full rate): how long a new,
    # unconfirmed track may go unseen, and how long weak detections may still re-find a track.
    # Dropping a tentative track on its first miss (ByteTrack's rule, made for 30 fps) loses
    # faint vehicles when frames are analysed sparsely.
    tentative_lost_seconds: float = 0.25
    weak_rescue_seconds: float = 0.2


def _buffered(boxes: np.ndarray, buffer: float) -> np.ndarray:
    margin = (boxes[:, 2:] - boxes[:, :2]) * buffer
    return np.hstack((boxes[:, :2] - margin, boxes[:, 2:] + margin))


def iou_matrix(a: np.ndarray, b: np.ndarray, buffer: float = 0.0) -> np.ndarray:
    """IoU of every xyxy box in a (N, 4) against every box in b (M, 4).

    With a buffer, both sets are first grown by that fraction of their size on every side
    (Yang et al., "C-BIoU", 2023), so a fast vehicle still overlaps its own track when frames
    are far apart.
    """
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    if buffer > 0:
        a, b = _buffered(a, buffer), _buffered(b, buffer)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    overlap = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return overlap / np.maximum(area_a[:, None] + area_b[None, :] - overlap, 1e-9)


def _match(iou: np.ndarray, min_iou: float) -> tuple[np.ndarray, np.ndarray]:
    """Optimal one-to-one pairs (row, column) with IoU of at least min_iou."""
    if iou.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # Jonker-Volgenant (lapx, as ByteTrack uses): the same optimum as SciPy's assignment solver
    # in a library of 15 MB instead of 100, which is most of what an edge image can save.
    _, row_to_col, _ = lap.lapjv(1.0 - iou, extend_cost=True)
    rows = np.flatnonzero(row_to_col >= 0)
    cols = row_to_col[rows].astype(np.int64)
    good = iou[rows, cols] >= min_iou
    return rows[good], cols[good]


def _xyxy_to_cxcywh(xyxy: np.ndarray) -> np.ndarray:
    return np.hstack(((xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]))


def _cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    half = np.abs(boxes[:, 2:4]) / 2
    return np.hstack((boxes[:, :2] - half, boxes[:, :2] + half))


_FIELDS = ("_ids", "_state", "_hits", "_last_seen", "_det", "_mean", "_cov")


class ByteTracker:
    """`update(detections, t)` returns the tracks seen at time t, with their tracker ids."""

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self.settings = settings or TrackerSettings()
        self._next_id = 1
        self._t: float | None = None
        self._buffer = 0.0
        # One row per track in parallel arrays, so prediction and matching are whole-array work.
        self._ids = np.zeros(0, np.int64)
        self._state = np.zeros(0, np.int64)
        self._hits = np.zeros(0, np.int64)
        self._last_seen = np.zeros(0)
        self._det = np.zeros(0, np.int64)  # row of the detection matched on this frame, or -1
        self._mean = np.zeros((0, 8))
        self._cov = np.zeros((0, 8, 8))

    def update(self, detections: Detections, t: float) -> Detections:
        s = self.settings
        first_frame = self._t is None
        dt = 0.0 if self._t is None else t - self._t
        self._t = t
        self._drop((self._state == LOST) & (t - self._last_seen > s.lost_seconds))
        self._mean, self._cov = kalman.predict(self._mean, self._cov, dt)
        predicted = _cxcywh_to_xyxy(self._mean[:, :4])
        self._buffer = min(s.max_buffer, s.buffer_per_second * dt)
        boxes, scores = detections.xyxy, detections.scores
        strong = np.flatnonzero(scores >= s.high_score)
        weak = np.flatnonzero((scores >= s.low_score) & (scores < s.high_score))
        self._det = np.full(len(self._ids), -1, np.int64)

        # Stage 1, a cascade by recency (as DeepSORT's matching cascade): strong detections go
        # first to tracks seen on the previous frame, then to tentative ones, and only then to
        # lost tracks, whose predictions have run on unchecked through the gap. When two cars
        # driving side by side come apart after being detected as one box, the car that reappears
        # must stay with the new track that followed it, not go to a long-lost one nearby.
        strong = self._associate(
            self._state == TRACKED, predicted, boxes, strong, s.first_match_iou
        )
        strong = self._associate(
            self._state == TENTATIVE, predicted, boxes, strong, s.tentative_match_iou
        )
        strong = self._associate(self._state == LOST, predicted, boxes, strong, s.first_match_iou)
        # Stage 2: weak detections only rescue tracks seen very recently: a dark car scoring
        # 0.1-0.2 at dusk may vanish for one sparse frame, but a weak box is no evidence for
        # re-finding a track lost for longer.
        recent = (self._state == TRACKED) | (
            (self._state == LOST) & (t - self._last_seen <= s.weak_rescue_seconds)
        )
        weak = self._associate(recent, predicted, boxes, weak, s.second_match_iou)
        # Stage 3: a weak detection may keep a new track alive (that dark car scores low on every
        # frame), but never start one.
        if s.tentative_takes_weak:
            self._associate(self._state == TENTATIVE, predicted, boxes, weak, s.tentative_match_iou)

        self._correct(boxes, t)
        self._forget(t)
        self._start(boxes, strong[scores[strong] >= s.new_track_score], t, first_frame)
        # Tentative tracks are reported too: a counter needs a vehicle's first sightings to know
        # which side of a line it came from. Deciding when a track is real enough to count is
        # the counting stage's job (it applies its own confirmation).
        shown = np.flatnonzero(self._det >= 0)
        return detections[self._det[shown]].with_tracker_ids(self._ids[shown])

    def _associate(
        self,
        eligible: np.ndarray,
        predicted: np.ndarray,
        boxes: np.ndarray,
        candidates: np.ndarray,
        min_iou: float,
    ) -> np.ndarray:
        """Match eligible, still unmatched tracks to candidate detections; return the leftovers."""
        pool = np.flatnonzero(eligible & (self._det < 0))
        rows, cols = _match(iou_matrix(predicted[pool], boxes[candidates], self._buffer), min_iou)
        self._det[pool[rows]] = candidates[cols]
        return np.delete(candidates, cols)

    def _correct(self, boxes: np.ndarray, t: float) -> None:
        matched = np.flatnonzero(self._det >= 0)
        self._mean[matched], self._cov[matched] = kalman.update(
            self._mean[matched], self._cov[matched], _xyxy_to_cxcywh(boxes[self._det[matched]])
        )
        self._hits[matched] += 1
        self._last_seen[matched] = t
        self._state[matched[self._hits[matched] >= self.settings.min_hits]] = TRACKED

    def _forget(self, t: float) -> None:
        missed = self._det < 0
        self._state[missed & (self._state == TRACKED)] = LOST
        stale = t - self._last_seen > self.settings.tentative_lost_seconds
        self._drop(missed & (self._state == TENTATIVE) & stale)

    def _drop(self, rows: np.ndarray) -> None:
        for name in _FIELDS:
            setattr(self, name, getattr(self, name)[~rows])

    def _start(self, boxes: np.ndarray, new: np.ndarray, t: float, first_frame: bool) -> None:
        if len(new) == 0:
            return
        n = len(new)
        # As in ByteTrack, objects present when the video starts are confirmed at once: they have
        # a history nobody saw, and must not be dropped for one missed detection like a blip.
        state = TRACKED if first_frame or self.settings.min_hits <= 1 else TENTATIVE
        mean, cov = kalman.initiate(_xyxy_to_cxcywh(boxes[new]))
        rows = {
            "_ids": np.arange(self._next_id, self._next_id + n),
            "_state": np.full(n, state),
            "_hits": np.ones(n, np.int64),
            "_last_seen": np.full(n, t),
            "_det": new,
            "_mean": mean,
            "_cov": cov,
        }
        self._next_id += n
        for name in _FIELDS:
            setattr(self, name, np.concatenate((getattr(self, name), rows[name])))
