"""Detections: the currency type that flows from the detector into the identity stage.

The identity stage (edge_worker/track/identity.py) turns them into Sightings of road users
(edge_worker/sightings.py), which is what the counters read.

A validated dataclass of parallel numpy arrays (after supervision's `Detections`), so each stage
works on whole frames at once and never on loose tuples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge_worker.contract import ROAD_USER_CLASSES

# The detector's (COCO's) ids of the road-user classes, in the contract's order.
COCO_IDS = (0, 1, 2, 3, 5, 7)
CLASS_NAMES: dict[int, str] = dict(zip(COCO_IDS, ROAD_USER_CLASSES, strict=True))
CLASS_IDS: dict[str, int] = {name: cid for cid, name in CLASS_NAMES.items()}
NO_TRACK = -1


@dataclass(frozen=True)
class Detections:
    """Boxes (x1, y1, x2, y2 in image pixels) with their scores, classes and track ids."""

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    tracker_ids: np.ndarray = field(default=None)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        n = len(xyxy)
        scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        class_ids = np.asarray(self.class_ids, dtype=np.int64).reshape(-1)
        if self.tracker_ids is None:
            tracker_ids = np.full(n, NO_TRACK, dtype=np.int64)
        else:
            tracker_ids = np.asarray(self.tracker_ids, dtype=np.int64).reshape(-1)
        for name, array in (
            ("scores", scores),
            ("class_ids", class_ids),
            ("tracker_ids", tracker_ids),
        ):
            if len(array) != n:
                raise ValueError(f"Detections.{name} has {len(array)} entries for {n} boxes")
        if n and not np.all(np.isfinite(xyxy)):
            raise ValueError("Detections.xyxy holds non-finite coordinates")
        if n and np.any(xyxy[:, 2:] < xyxy[:, :2]):
            raise ValueError("Detections.xyxy needs x2 >= x1 and y2 >= y1")
        # Frozen, so the normalised arrays are written through object.__setattr__.
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "class_ids", class_ids)
        object.__setattr__(self, "tracker_ids", tracker_ids)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: np.ndarray | slice | int) -> Detections:
        if isinstance(index, int):
            index = slice(index, index + 1)
        return Detections(
            self.xyxy[index], self.scores[index], self.class_ids[index], self.tracker_ids[index]
        )

    @property
    def centres(self) -> np.ndarray:
        """Box centres, the point the ground truth uses for a line crossing."""
        return (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2.0

    def with_tracker_ids(self, tracker_ids: np.ndarray) -> Detections:
        return Detections(self.xyxy, self.scores, self.class_ids, tracker_ids)
