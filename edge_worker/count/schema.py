"""Counter definitions of a site: lines, turning movements, zones and speed calibration.

The site-config schema (edge_worker/config.py) embeds these models, and the `count` command builds
them from `--line` arguments, so both paths are validated by the same rules.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

Point = tuple[float, float]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:>\-]+$")]


class _Strict(BaseModel):
    # A typo in a site file must fail at start with the key's path, not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class LineSpec(_Strict):
    """A counting line from P1 to P2; `in` crosses from cross(P2-P1, p-P1) < 0 to > 0."""

    name: Name
    x1: float
    y1: float
    x2: float
    y2: float
    points: tuple[Point, Point]

    @model_validator(mode="before")
    @classmethod
    def _one_geometry(cls, data: object) -> object:
        # Both spellings are accepted; afterwards `points` and x1..y2 are always both filled.
        if not isinstance(data, dict):
            return data
        keys = ("x1", "y1", "x2", "y2")
        given = [k for k in keys if data.get(k) is not None]
        if data.get("points") is None:
            if len(given) != 4:
                raise ValueError("a line needs x1, y1, x2, y2 or points")
            return {**data, "points": ((data["x1"], data["y1"]), (data["x2"], data["y2"]))}
        (x1, y1), (x2, y2) = data["points"]
        ends = {"x1": x1, "y1": y1, "x2": x2, "y2": y2}
        # Both spellings at once are accepted only when they agree (a dumped LineSpec has both).
        if given and any(data.get(k) != ends[k] for k in keys):
            raise ValueError("give either x1, y1, x2, y2 or points, not both")
        return {**data, **ends}

    @model_validator(mode="after")
    def _not_a_point(self) -> LineSpec:
        if self.p1 == self.p2:
            raise ValueError("the two ends of a line must differ")
        return self

    @property
    def p1(self) -> Point:
        return self.points[0]

    @property
    def p2(self) -> Point:
        return self.points[1]


class ZoneSpec(_Strict):
    """A polygon on the image for occupancy and dwell (and as a movement entry or exit)."""

    name: Name
    polygon: list[Point] = Field(min_length=3)


class MovementSpec(_Strict):
    """A turning movement: entered by `entry`, left by `exit` (names of lines or zones)."""

    name: Name
    entry: Name
    exit: Name

    @model_validator(mode="after")
    def _distinct(self) -> MovementSpec:
        if self.entry == self.exit:
            raise ValueError("a movement's entry and exit must differ")
        return self


class Calibration(_Strict):
    """Four image points and where they lie on the ground, in metres, for speed estimates."""

    image_points: tuple[Point, Point, Point, Point]
    ground_points_m: tuple[Point, Point, Point, Point]


class CounterSet(_Strict):
    """All counters of one camera, with cross-references checked."""

    lines: list[LineSpec] = Field(default_factory=list)
    movements: list[MovementSpec] = Field(default_factory=list)
    zones: list[ZoneSpec] = Field(default_factory=list)
    calibration: Calibration | None = None

    @model_validator(mode="after")
    def _references(self) -> CounterSet:
        specs: list[LineSpec | ZoneSpec | MovementSpec] = [
            *self.lines,
            *self.zones,
            *self.movements,
        ]
        names = [spec.name for spec in specs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"counter names must be unique: {', '.join(duplicates)}")
        gates = {spec.name for spec in self.lines} | {spec.name for spec in self.zones}
        for movement in self.movements:
            for end in (movement.entry, movement.exit):
                if end not in gates:
                    raise ValueError(f"movement {movement.name}: no line or zone named {end!r}")
        return self
