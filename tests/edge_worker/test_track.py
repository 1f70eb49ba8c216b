"""The ByteTrack-class tracker on synthetic detections."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from edge_worker.detections import Detections
from edge_worker.track import ByteTracker, TrackerSettings
from edge_worker.track.bytetrack import _match, iou_matrix


def boxes(*items, size=(60, 40)) -> Detections:
    """items: (x, y, score) of boxes centred at x, y; cars."""
    if not items:
        return Detections.empty()
    w, h = size
    xy = np.array([(x, y) for x, y, _ in items], dtype=float)
    xyxy = np.column_stack((xy[:, 0] - w / 2, xy[:, 1] - h / 2, xy[:, 0] + w / 2, xy[:, 1] + h / 2))
    return Detections(xyxy, [s for *_, s in items], np.full(len(items), 2))


def ids_over(tracker: ByteTracker, frames, dt: float) -> list[list[int]]:
    return [tracker.update(d, i * dt).tracker_ids.tolist() for i, d in enumerate(frames)]


def test_two_vehicles_keep_their_ids():
    frames = [boxes((100 + 8 * i, 100, 0.8), (500 - 8 * i, 200, 0.7)) for i in range(30)]
    history = ids_over(ByteTracker(), frames, 1 / 24)
    assert all(sorted(ids) == [1, 2] for ids in history)


@pytest.mark.parametrize("stride", [1, 3, 5])
def test_ids_survive_analysing_every_nth_frame(stride):
    # A 120 px car moving 14 px per 1/24 s, as on the overhead test clip: at stride 5 it moves
    # 70 px between analysed frames, more than half its length, before any velocity is known.
    frames = [boxes((40 + 14 * i, 100, 0.7), size=(120, 60)) for i in range(0, 40, stride)]
    history = ids_over(ByteTracker(), frames, stride / 24)
    assert {i for ids in history for i in ids} == {1}


def test_a_new_track_is_reported_from_its_first_frame_on_the_first_frame_of_the_video():
    tracker = ByteTracker()
    assert tracker.update(boxes((100, 100, 0.8)), 0.0).tracker_ids.tolist() == [1]


def test_weak_detections_extend_a_track_but_never_start_one():
    tracker = ByteTracker(TrackerSettings(high_score=0.5, new_track_score=0.5))
    assert tracker.update(boxes((100, 100, 0.3)), 0.0).tracker_ids.tolist() == []
    tracker.update(boxes((300, 100, 0.9)), 0.04)
    tracker.update(boxes((304, 100, 0.9)), 0.08)
    # The same car fades into the dusk: its weak detection still carries the track on.
    assert tracker.update(boxes((308, 100, 0.15)), 0.12).tracker_ids.tolist() == [1]


@pytest.mark.parametrize(("missed_frames", "same_id"), [(1, True), (2, False)])
def test_a_tentative_track_survives_one_sparse_missed_frame_and_no_more(missed_frames, same_id):
    # At 5 analysed fps one missed frame is 0.2 s: a faint new vehicle keeps its track; a
    # blip that does not come back within tentative_lost_seconds is gone.
    tracker = ByteTracker(TrackerSettings(min_hits=3, tentative_lost_seconds=0.25))
    tracker.update(Detections.empty(), 0.0)
    tracker.update(boxes((100, 100, 0.9)), 0.2)
    for i in range(missed_frames):
        tracker.update(Detections.empty(), 0.4 + 0.2 * i)
    back = tracker.update(boxes((100, 100, 0.9)), 0.4 + 0.2 * missed_frames)
    assert (back.tracker_ids.tolist() == [1]) is same_id


@pytest.mark.parametrize(("gap_seconds", "same_id"), [(0.2, True), (0.6, False)])
def test_weak_detections_rescue_only_a_track_lost_very_recently(gap_seconds, same_id):
    tracker = ByteTracker(TrackerSettings(weak_rescue_seconds=0.2, lost_seconds=1.5))
    for i in range(5):
        tracker.update(boxes((100, 100, 0.9)), i * 0.2)
    tracker.update(Detections.empty(), 0.8 + gap_seconds / 2)
    back = tracker.update(boxes((100, 100, 0.15)), 0.8 + gap_seconds)
    assert (back.tracker_ids.tolist() == [1]) is same_id


def test_a_detection_goes_to_the_track_that_saw_it_last_before_a_lost_one():
    # Two cars side by side were detected as one box, followed by track 1, which was then lost.
    # One car comes apart, is picked up by a new track 2 and drives on past where track 1
    # vanished: its box now overlaps both, and must stay with track 2, which saw it last.
    tracker = ByteTracker()
    for i in range(4):
        tracker.update(boxes((100, 100, 0.9)), i / 8)
    tracker.update(Detections.empty(), 4 / 8)
    assert tracker.update(boxes((160, 100, 0.3)), 5 / 8).tracker_ids.tolist() == [2]
    assert tracker.update(boxes((140, 100, 0.9)), 6 / 8).tracker_ids.tolist() == [2]


@pytest.mark.parametrize(("gap_seconds", "same_id"), [(0.5, True), (1.4, True), (2.0, False)])
def test_the_lost_track_buffer_is_in_seconds(gap_seconds, same_id):
    tracker = ByteTracker(TrackerSettings(lost_seconds=1.5))
    for i in range(5):
        tracker.update(boxes((100, 100, 0.9)), i / 24)
    tracker.update(Detections.empty(), 5 / 24)
    back = tracker.update(boxes((100, 100, 0.9)), 4 / 24 + gap_seconds)
    assert (back.tracker_ids.tolist() == [1]) is same_id


def test_iou_with_a_buffer_matches_boxes_that_moved_apart():
    a = np.array([[0, 0, 100, 50]], dtype=float)
    b = np.array([[120, 0, 220, 50]], dtype=float)
    assert iou_matrix(a, b)[0, 0] == 0
    assert iou_matrix(a, b, buffer=0.5)[0, 0] == pytest.approx(0.25)


@pytest.mark.parametrize("rows, cols", [(1, 1), (2, 3), (3, 2), (4, 4), (5, 3), (2, 6)])
def test_matching_finds_the_pairs_of_greatest_total_overlap(rows, cols):
    """Checked against every possible pairing: the solver's pairs carry the most IoU in all."""
    rng = np.random.default_rng(rows * 10 + cols)
    for _ in range(50):
        # Sparse like a real frame: most track-detection pairs do not overlap at all.
        iou = rng.random((rows, cols)) * (rng.random((rows, cols)) < 0.5)
        r, c = _match(iou, min_iou=0.0)
        assert len(set(r)) == len(r) and len(set(c)) == len(c)
        k = min(rows, cols)
        best = max(
            sum(iou[i, j] for i, j in zip(chosen, perm, strict=True))
            for chosen in itertools.combinations(range(rows), k)
            for perm in itertools.permutations(range(cols), k)
        )
        assert iou[r, c].sum() == pytest.approx(best)


def test_matching_drops_pairs_below_the_overlap_floor():
    iou = np.array([[0.9, 0.0], [0.0, 0.1]])
    r, c = _match(iou, min_iou=0.3)
    assert (r.tolist(), c.tolist()) == ([0], [0])
