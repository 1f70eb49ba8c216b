"""The batch body `junction.batch/v1` (DESIGN.md section 4) as a strict schema.

Unknown fields, wrong types (a bool or a string where a count belongs) and values outside their
range are refused with the path of the field. Rules that need the region's policy or the site's
counters live in junction.ingest.policy.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from edge_worker.contract import BatchSchema, Direction, RoadUserClass
from junction.ingest.errors import Invalid

MAX_BUCKETS = 1440  # a day of one-minute buckets; the body size limit usually bites first
MAX_ENTRIES = 10_000

MAX_BUCKET_SECONDS = 86_400
# Starts from here on could not end inside the calendar (datetime.max) with the longest bucket.
STARTS_BEFORE = datetime(9999, 12, 31, tzinfo=UTC)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    # PostgreSQL cannot store NUL in text (SQLite can): refused here, the same on every
    # database, rather than failing in the store and being retried by the device for ever.
    # The other control characters are no part of a name and would corrupt CSV and logs.
    found = _CONTROL.search(text)
    if found:
        raise ValueError(
            f"must not contain a control character (U+{ord(found[0]):04X} at "
            f"position {found.start()})"
        )
    return text


Name = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_printable)]
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
    direction: Direction | None = None
    road_user: RoadUserClass = Field(alias="class")
    count: Count


class SpeedIn(_Body):
    counter: Name
    road_user: RoadUserClass = Field(alias="class")
    edges_kmh: Annotated[list[Edge], Field(min_length=2, max_length=65)]
    counts: list[Count]

    _edges = field_validator("edges_kmh")(_edges_check)

    @field_validator("counts")
    @classmethod
    def _fits_edges(cls, counts: list[int], info: ValidationInfo) -> list[int]:
        return _histogram_check(counts, info, "edges_kmh")


class OccupancyIn(_Body):
    zone: Name
    road_user: RoadUserClass = Field(alias="class")
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
    road_user: RoadUserClass = Field(alias="class")
    edges_s: Annotated[list[Edge], Field(min_length=2, max_length=65)]
    counts: list[Count]

    _edges = field_validator("edges_s")(_edges_check)

    @field_validator("counts")
    @classmethod
    def _fits_edges(cls, counts: list[int], info: ValidationInfo) -> list[int]:
        return _histogram_check(counts, info, "edges_s")


class BucketIn(_Body):
    start: AwareDatetime
    seconds: Annotated[int, Field(gt=0, le=MAX_BUCKET_SECONDS)]
    uptime: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    counts: Annotated[list[CountIn], Field(max_length=MAX_ENTRIES)] = []
    speeds: Annotated[list[SpeedIn], Field(max_length=MAX_ENTRIES)] = []
    occupancy: Annotated[list[OccupancyIn], Field(max_length=MAX_ENTRIES)] = []
    # Optional in v1: dwell-time histograms per zone, sent by edge workers that measure them.
    dwell: Annotated[list[DwellIn], Field(max_length=MAX_ENTRIES)] = []

    @field_validator("start")
    @classmethod
    def _in_utc(cls, start: datetime) -> datetime:
        # Starts near either end of the calendar would overflow in the UTC conversion or in
        # start + seconds (the policy's arithmetic): a body the store could never take.
        try:
            start = start.astimezone(UTC)
        except OverflowError:
            raise ValueError("lies outside the years 1 to 9999 in UTC") from None
        if start >= STARTS_BEFORE:
            raise ValueError(
                f"must be before {STARTS_BEFORE:%Y-%m-%dT%H:%M:%SZ}, so that "
                "the bucket ends inside the calendar"
            )
        return start


class ModelIn(_Body):
    name: Name
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class BatchIn(_Body):
    schema_: BatchSchema = Field(alias="schema")
    batch_id: UUID
    device_id: Name
    site: Name
    region: Annotated[
        str, StringConstraints(min_length=1, max_length=32), AfterValidator(_printable)
    ]
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
        batch = BatchIn.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        raise Invalid(
            _RULES.get(first["type"], "invalid_value"),
            field_path(first["loc"]),
            first["msg"],
            errors=[{"field": field_path(e["loc"]), "detail": e["msg"]} for e in errors[:20]],
        ) from None
    _duplicate_keys_check(body)
    return batch


class _Pairs(list):
    """A JSON object as its (key, value) pairs in order, duplicates kept."""


class _DuplicateKey(Exception):
    pass


def _unique_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateKey
    return obj


def _duplicate_keys_check(body: bytes) -> None:
    """Refuse a key given twice in one object: pydantic (like most parsers) keeps the last,
    so `"count": 12, "count": 999999` would store a number the device may never have meant,
    and a signer and a reader that disagree on which one counts could sign one batch and
    store another. Run on a schema-valid body only, so its nesting is bounded by the schema;
    the path of the duplicate is only looked for once one was found."""
    try:
        json.loads(body, object_pairs_hook=_unique_object)
        return
    except _DuplicateKey:
        pass
    except ValueError as exc:  # pydantic took it, so this is not expected; still a 422
        raise Invalid("invalid_json", "body", str(exc)) from None
    stack: list[tuple[tuple[str | int, ...], object]] = [
        ((), json.loads(body, object_pairs_hook=_Pairs))
    ]
    while stack:
        path, node = stack.pop()
        if isinstance(node, _Pairs):
            seen: set[str] = set()
            for key, value in node:
                if key in seen:
                    raise Invalid(
                        "duplicate_key",
                        field_path((*path, key)),
                        f"the key {key!r} is given more than once in this object",
                    )
                seen.add(key)
                stack.append(((*path, key), value))
        elif isinstance(node, list):
            stack.extend(((*path, i), item) for i, item in enumerate(node))
