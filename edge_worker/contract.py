"""The vocabulary the edge and the platform share: the batch contract of DESIGN.md section 4.

Each name is defined here once. The edge worker builds its site file, its privacy filter and its
batches from it; the platform validates batches, region policies and API filters against it (the
platform may import this module; it imports nothing but the standard library, so that stays true).
"""

from __future__ import annotations

from typing import Final, Literal, get_args

BatchSchema = Literal["junction.batch/v1"]
BATCH_SCHEMA: Final[str] = get_args(BatchSchema)[0]

# The road users Junction counts, in the order pages and tables list them. A region may collect
# fewer (its policy), never others.
RoadUserClass = Literal["person", "bicycle", "car", "motorcycle", "bus", "truck"]
ROAD_USER_CLASSES: Final[tuple[RoadUserClass, ...]] = get_args(RoadUserClass)

# The side of a counting line a road user crossed towards; a movement has no direction.
Direction = Literal["in", "out"]
DIRECTIONS: Final[tuple[Direction, ...]] = get_args(Direction)
