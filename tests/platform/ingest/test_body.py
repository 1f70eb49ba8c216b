"""422 for a body that breaks the v1 schema, naming the field and the rule; nothing stored."""

from __future__ import annotations

import pytest

from tests.platform.ingest.device import (
    assert_error,
    assert_nothing_stored,
    example_batch,
    send,
)


def _set(path: str, value):
    """A mutation of the example body: set (or with value DELETE, remove) the dotted path."""

    def mutate(body: dict) -> None:
        *parents, last = path.split(".")
        node = body
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is DELETE:
            del node[last]
        else:
            node[int(last) if last.isdigit() else last] = value

    return mutate


DELETE = object()

# name: (mutation, rule, field)
BAD_BODIES = {
    "unknown top-level field": (_set("note", "hi"), "unknown_field", "note"),
    "unknown bucket field": (_set("buckets.0.frames", []), "unknown_field", "buckets[0].frames"),
    "unknown count field": (
        _set("buckets.0.counts.0.track_id", 7),
        "unknown_field",
        "buckets[0].counts[0].track_id",
    ),
    "missing batch_id": (_set("batch_id", DELETE), "missing_field", "batch_id"),
    "missing model": (_set("model", DELETE), "missing_field", "model"),
    "wrong schema": (_set("schema", "junction.batch/v2"), "invalid_value", "schema"),
    "batch_id not a uuid": (_set("batch_id", "batch-1"), "invalid_value", "batch_id"),
    "model hash not hex": (_set("model.sha256", "d39bee"), "invalid_value", "model.sha256"),
    "no buckets": (_set("buckets", []), "invalid_value", "buckets"),
    "start without timezone": (
        _set("buckets.0.start", "2026-11-27T05:59:00"),
        "invalid_value",
        "buckets[0].start",
    ),
    "seconds zero": (_set("buckets.0.seconds", 0), "invalid_value", "buckets[0].seconds"),
    "seconds as text": (_set("buckets.0.seconds", "60"), "invalid_value", "buckets[0].seconds"),
    "uptime above one": (_set("buckets.0.uptime", 1.5), "invalid_value", "buckets[0].uptime"),
    "uptime negative": (_set("buckets.0.uptime", -0.1), "invalid_value", "buckets[0].uptime"),
    "negative count": (
        _set("buckets.0.counts.0.count", -1),
        "invalid_value",
        "buckets[0].counts[0].count",
    ),
    "fractional count": (
        _set("buckets.0.counts.0.count", 1.5),
        "invalid_value",
        "buckets[0].counts[0].count",
    ),
    "boolean count": (
        _set("buckets.0.counts.0.count", True),
        "invalid_value",
        "buckets[0].counts[0].count",
    ),
    "unknown class": (
        _set("buckets.0.counts.0.class", "tank"),
        "invalid_value",
        "buckets[0].counts[0].class",
    ),
    "unknown direction": (
        _set("buckets.0.counts.0.direction", "up"),
        "invalid_value",
        "buckets[0].counts[0].direction",
    ),
    "speed counts do not fit edges": (
        _set("buckets.0.speeds.0.counts", [1, 2]),
        "invalid_value",
        "buckets[0].speeds[0].counts",
    ),
    "speed edges not increasing": (
        _set("buckets.0.speeds.0.edges_kmh", [0, 20, 10]),
        "invalid_value",
        "buckets[0].speeds[0].edges_kmh",
    ),
    "negative speed count": (
        _set("buckets.0.speeds.0.counts.2", -4),
        "invalid_value",
        "buckets[0].speeds[0].counts[2]",
    ),
    "occupancy mean above max": (
        _set("buckets.0.occupancy.0.mean", 4.0),
        "invalid_value",
        "buckets[0].occupancy[0].max",
    ),
    "dwell counts do not fit edges": (
        _set(
            "buckets.0.dwell",
            [{"zone": "crosswalk-north", "class": "person", "edges_s": [0, 5, 10], "counts": [1]}],
        ),
        "invalid_value",
        "buckets[0].dwell[0].counts",
    ),
}


@pytest.mark.parametrize("case", BAD_BODIES, ids=list(BAD_BODIES))
def test_it_refuses_a_body_that_breaks_the_schema(client, eu_device, case):
    mutate, rule, field = BAD_BODIES[case]
    body = example_batch(eu_device)
    mutate(body)
    payload = assert_error(send(client, eu_device, body), 422, rule, field)
    assert payload["detail"]
    assert_nothing_stored()


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[]", b"", "{}".encode("utf-16")],
    ids=["broken", "array", "empty", "not utf-8"],
)
def test_it_refuses_a_body_that_is_not_a_json_object(client, eu_device, raw):
    # The test client leaves out Content-Length for an empty body; a real client sends 0.
    sent = {"Idempotency-Key": "x", "Content-Length": str(len(raw))}
    assert_error(send(client, eu_device, raw, header_overrides=sent), 422, "invalid_json", "body")
    assert_nothing_stored()


def test_it_refuses_a_batch_without_an_idempotency_key(client, eu_device):
    response = send(
        client, eu_device, example_batch(eu_device), header_overrides={"Idempotency-Key": None}
    )
    assert_error(response, 422, "missing_idempotency_key", "Idempotency-Key")
    assert_nothing_stored()


def test_it_refuses_an_idempotency_key_other_than_the_batch_id(client, eu_device):
    response = send(
        client,
        eu_device,
        example_batch(eu_device),
        header_overrides={"Idempotency-Key": example_batch(eu_device)["batch_id"]},
    )
    assert_error(response, 422, "idempotency_key_mismatch", "Idempotency-Key")
    assert_nothing_stored()


def test_it_lists_every_broken_field_of_a_body(client, eu_device):
    body = example_batch(eu_device)
    body["buckets"][0]["uptime"] = 2
    body["buckets"][0]["counts"][1]["count"] = -3
    payload = assert_error(send(client, eu_device, body), 422)
    assert {e["field"] for e in payload["errors"]} == {
        "buckets[0].uptime",
        "buckets[0].counts[1].count",
    }
