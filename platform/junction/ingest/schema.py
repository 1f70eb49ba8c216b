"""The batch body `junction.batch/v1` (DESIGN.md section 4) as a strict schema.

Unknown fields, wrong types (a bool or a string where a count belongs) and values outside their
range are refused with the path of the field. Rules that need the region's policy or the site's
counters live in junction.ingest.policy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from junction.ingest.errors import Invalid

SCHEMA = "junction.batch/v1"
MAX_BUCKETS = 1440  # a day of one-minute buckets; the body size limit usually bites first
MAX_ENTRIES = 10_000

RoadUser = Literal["person", "bicycle", "car", "motorcycle", "bus", "truck"]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]
Edge = Annotated[float, Field(allow_inf_nan=False)]


class _Body(BaseModel):
    # strict: JSON true is not a count and "12" is not a number; extra: a typo is an error.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def _histogram_check(counts: list[int], info: ValidationInfo, edges_field: str) -> list[int]:
    edges = info.data.get(edges_field)
    if edges is None:  # the edges themselves were invalid and are reported on their own
        return counts
    if len(counts) != len(edges) - 1:
        raise ValueError(f"{len(edges)} edges need {len(edges) - 1} counts, got {len(counts)}")
    return counts


def _edges_check(edges: list[float]) -> list[float]:
    if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError("edges must be strictly increasing")
    return edges


class CountIn(_Body):
    counter: Name
    direction: Literal["in", "out"] | None = None
    road_user: RoadUser = Field(alias="class")
    count: Count


class SpeedIn(_Body):
    counter: Name
    road_user: RoadUser = Field(alias="class")
    edges_kmh: Annotated[list[Edge], Field(min_length=2, max_length=65)]
    counts: list[Count]

    _edges = field_validator("edges_kmh")(_edges_check)

    @field_validator("counts")
    @classmethod
    def _fits_edges(cls, counts: list[int], info: ValidationInfo) -> list[int]:
        return _histogram_check(counts, info, "edges_kmh")


class OccupancyIn(_Body):
    zone: Name
    road_user: RoadUser = Field(alias="class")
    mean: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    max: Count

    @field_validator("max")
    @classmethod
    def _not_below_mean(cls, peak: int, info: ValidationInfo) -> int:
        mean = info.data.get("mean")
        if mean is not None and mean > peak:
            raise ValueError(f"max {peak} is below the mean {mean}")
        return peak


class DwellIn(_Body):
    zone: Name
    road_user: RoadUser = Field(alias="class")
    edges_s: Annotated[list[Edge], Field(min_length=2, max_length=65)]
    counts: list[Count]

    _edges = field_validator("edges_s")(_edges_check)

    @field_validator("counts")
    @classmethod
    def _fits_edges(cls, counts: list[int], info: ValidationInfo) -> list[int]:
        return _histogram_check(counts, info, "edges_s")


class BucketIn(_Body):
    start: AwareDatetime
    seconds: Annotated[int, Field(gt=0, le=86_400)]
    uptime: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    counts: Annotated[list[CountIn], Field(max_length=MAX_ENTRIES)] = []
    speeds: Annotated[list[SpeedIn], Field(max_length=MAX_ENTRIES)] = []
    occupancy: Annotated[list[OccupancyIn], Field(max_length=MAX_ENTRIES)] = []
    # Optional in v1: dwell-time histograms per zone, sent by edge workers that measure them.
    dwell: Annotated[list[DwellIn], Field(max_length=MAX_ENTRIES)] = []

    @field_validator("start")
    @classmethod
    def _in_utc(cls, start: datetime) -> datetime:
        return start.astimezone(UTC)


class ModelIn(_Body):
    name: Name
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class BatchIn(_Body):
    schema_: Literal["junction.batch/v1"] = Field(alias="schema")
    batch_id: UUID
    device_id: Name
    site: Name
    region: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    model: ModelIn
    buckets: Annotated[list[BucketIn], Field(min_length=1, max_length=MAX_BUCKETS)]


def field_path(loc: tuple[str | int, ...]) -> str:
    """('buckets', 0, 'counts', 1, 'class') -> 'buckets[0].counts[1].class'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


_RULES = {
    "extra_forbidden": "unknown_field",
    "missing": "missing_field",
    "json_invalid": "invalid_json",
    "json_type": "invalid_json",
    "model_type": "invalid_json",
}


def batch_parse(body: bytes) -> BatchIn:
    """The validated batch, or Invalid naming the first offending field and its rule."""
    try:
        return BatchIn.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        raise Invalid(
            _RULES.get(first["type"], "invalid_value"),
            field_path(first["loc"]),
            first["msg"],
            errors=[{"field": field_path(e["loc"]), "detail": e["msg"]} for e in errors[:20]],
        ) from None
