"""The identity stage: which road user each track is, and when a road user has left.

Tracks are written by hand (tracker ids included) and passed through unchanged by `GivenTracks`,
so each case states exactly what the tracker reported. Boxes are 40x30 px; a frame is 1/24 s.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_worker.detections import CLASS_IDS, Detections
from edge_worker.track import Identity, RoadUserSettings
from tests.edge_worker.tracks import GivenTracks

FPS = 24.0


def box(track: int, x: float, y: float, cls: str = "car", w: float = 40, h: float = 30):
    return (track, [x - w / 2, y - h / 2, x + w / 2, y + h / 2], CLASS_IDS[cls])


def frame(*boxes) -> Detections:
    if not boxes:
        return Detections.empty()
    ids, xyxy, classes = zip(*boxes, strict=True)
    return Detections(list(xyxy), [0.8] * len(ids), list(classes), list(ids))


def drive(track: int, frames: int, y0: float = 40, cls: str = "car") -> list[Detections]:
    """A box moving down the image 6 px per frame."""
    return [frame(box(track, 100, y0 + 6 * i, cls)) for i in range(frames)]


def keys_over(frames: list[Detections], settings: RoadUserSettings | None = None):
    """The road-user keys seen on each frame, and (t, keys) of every frame where some left."""
    identity = Identity(GivenTracks(), settings)
    seen, left = [], []
    for i, detections in enumerate(frames):
        sightings, gone = identity.update(detections, i / FPS)
        seen.append([user.key for user in sightings.users])
        if gone:
            left.append((i / FPS, [user.key for user in gone]))
    return seen, left


@pytest.mark.parametrize(
    ("frames", "same_road_user"),
    [
        # The tracker switches ids mid-drive: the new id takes over where the old one vanished.
        (drive(1, 5) + [frame(box(2, 100, 40 + 6 * i)) for i in range(5, 10)], True),
        # A bus box may follow a car box on one vehicle: both are vehicles.
        (drive(1, 5) + [frame(box(2, 100, 40 + 6 * i, "bus")) for i in range(5, 10)], True),
        # A person never takes over a car.
        (drive(1, 5) + [frame(box(2, 100, 40 + 6 * i, "person")) for i in range(5, 10)], False),
        # Two sightings are not enough to lend a history to a newcomer.
        (drive(1, 2) + [frame(box(2, 100, 40 + 6 * i)) for i in range(2, 10)], False),
        # A box twice as large is another object, even where the old one pointed.
        (drive(1, 5) + [frame(box(2, 100, 40 + 6 * i, w=90, h=70)) for i in range(5, 10)], False),
        # The same id after a gap longer than reuse_gap_seconds (2 s) is someone new.
        (drive(1, 5) + [frame()] * 60 + drive(1, 5, y0=70), False),
        # The same id jumping farther than two diagonals in one frame is another object.
        (drive(1, 5) + [frame(box(1, 300, 400))], False),
    ],
    ids=[
        "id switch",
        "car to bus",
        "car to person",
        "unconfirmed",
        "size jump",
        "id reused",
        "impossible jump",
    ],
)
def test_it_keeps_one_road_user_only_where_the_tracks_are_one_object(frames, same_road_user):
    seen, _ = keys_over(frames)
    keys = {key for keys in seen for key in keys}
    assert (len(keys) == 1) == same_road_user


def test_a_road_user_unseen_for_forget_seconds_has_left_once():
    seen, left = keys_over(drive(1, 3) + [frame()] * 100)
    [(t, keys)] = left
    assert keys == seen[0]
    last_seen = 2 / FPS
    assert 3.0 < t - last_seen <= 3.0 + 1 / FPS


def test_finish_hands_over_everyone_still_present_and_forgets_them():
    identity = Identity(GivenTracks())
    for i, detections in enumerate(drive(1, 4)):
        identity.update(detections, i / FPS)
    assert [user.key for user in identity.finish()] == [1]
    assert identity.finish() == []


@pytest.mark.parametrize(
    ("min_sightings", "confirmed_from"), [(3, 2), (1, 0), (5, 4)], ids=["default", "1", "5"]
)
def test_a_road_user_is_confirmed_after_min_sightings(min_sightings, confirmed_from):
    identity = Identity(GivenTracks(), RoadUserSettings(min_sightings=min_sightings))
    confirmed = []
    for i, detections in enumerate(drive(1, 6)):
        sightings, _ = identity.update(detections, i / FPS)
        confirmed.append(sightings.users[0].confirmed)
    assert confirmed == [i >= confirmed_from for i in range(6)]


def test_a_repeated_box_is_no_new_sighting():
    identity = Identity(GivenTracks())
    still = frame(box(1, 100, 60))
    fresh, confirmed = [], []
    for i in range(5):
        [user] = identity.update(still, i / FPS)[0].users
        fresh.append(user.fresh)
        confirmed.append(user.confirmed)
    assert fresh == [True, False, False, False, False]
    assert confirmed == [False] * 5


def test_a_car_coming_out_of_a_shrinking_pair_box_is_marked_as_split_from_it():
    identity = Identity(GivenTracks())
    for i, y in enumerate(np.linspace(40, 96, 15)):
        identity.update(Detections([[80, y - 15, 180, y + 15]], [0.8], [2], [1]), i / FPS)
    y = 101.0
    parted = Detections(
        [[80, y - 15, 120, y + 15], [140, y - 15, 180, y + 15]], [0.8, 0.8], [2, 2], [1, 2]
    )
    pair, newcomer = identity.update(parted, 15 / FPS)[0].users
    assert newcomer.split_from is pair
    assert pair.split_from is None


def test_by_default_the_real_tracker_gives_the_tracks():
    # Detections without tracker ids, as the detector gives them: the stage's ByteTracker links
    # them, so one car driving is one road user throughout.
    identity = Identity()
    keys = set()
    for i in range(20):
        y = 40 + 6 * i
        sightings, _ = identity.update(Detections([[80, y - 15, 120, y + 15]], [0.9], [2]), i / 24)
        keys |= {user.key for user in sightings.users}
    assert keys == {1}
