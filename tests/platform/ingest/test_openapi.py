"""The ingest endpoint, a plain Django view, is published in the OpenAPI schema with its headers,
its answers and a request body that accepts and refuses what the endpoint's pydantic model does."""

from __future__ import annotations

import copy
import json
import uuid

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from pydantic import ValidationError

from junction.ingest.openapi import BODY, OUTCOME
from junction.ingest.schema import BatchIn
from junction.ingest.services import IngestOutcome
from tests.platform.ingest.device import INGEST_URL

HEADERS = {"X-Junction-Device", "X-Junction-Timestamp", "X-Junction-Signature", "Idempotency-Key"}
DELETE = object()
ANSWERS = {"200", "201", "401", "403", "409", "411", "413", "421", "422", "429", "503"}

VALID = {
    "schema": "junction.batch/v1",
    "batch_id": str(uuid.uuid4()),
    "device_id": "dev-main-5th-n",
    "site": "main-and-5th",
    "region": "eu-west",
    "model": {"name": "yolox_nano", "sha256": "d" * 64},
    "buckets": [
        {
            "start": "2026-11-27T05:59:00Z",
            "seconds": 60,
            "uptime": 0.98,
            "counts": [
                {"counter": "north-stopline", "direction": "in", "class": "car", "count": 12},
                {"counter": "N>E", "direction": None, "class": "bicycle", "count": 1},
            ],
            "speeds": [
                {
                    "counter": "north-stopline",
                    "class": "car",
                    "edges_kmh": [0, 10, 20],
                    "counts": [1, 4],
                }
            ],
            "occupancy": [{"zone": "crosswalk-north", "class": "person", "mean": 0.4, "max": 3}],
        }
    ],
}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _changed(path: str, value) -> dict:
    """The valid body with one dotted path set to `value` (or removed, for DELETE)."""
    body = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    node = body
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return body


def _json_schema(node):
    """The OpenAPI 3.0 body schema read as JSON Schema, the way an OpenAPI client reads it."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False) and "type" in node:
        node["type"] = [node["type"], "null"]
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if node.get(exclusive) is True:
            node[exclusive] = node.pop(bound)
    return node


def test_it_publishes_the_ingest_path_with_its_headers_and_answers(schema):
    operation = schema["paths"][INGEST_URL]["post"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert headers == HEADERS
    assert all(p["required"] for p in operation["parameters"])
    assert set(operation["responses"]) == ANSWERS
    assert operation["security"] == []
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{BODY}"}


def test_it_answers_every_refusal_with_the_json_error_shape(schema):
    responses = schema["paths"][INGEST_URL]["post"]["responses"]
    for status in ANSWERS - {"200", "201"}:
        shape = responses[status]["content"]["application/json"]["schema"]["$ref"]
        error = schema["components"]["schemas"][shape.rsplit("/", 1)[1]]
        assert {"error", "field", "detail"} <= set(error["required"]), status
    assert "Retry-After" in responses["409"]["headers"]
    assert "Retry-After" in responses["503"]["headers"]


def test_it_describes_the_outcome_the_endpoint_answers(schema):
    outcome = IngestOutcome(
        created=True,
        batch_id=uuid.uuid4(),
        buckets=1,
        no_data_buckets=0,
        count_rows=1,
        buckets_replaced=0,
    )
    assert set(schema["components"]["schemas"][OUTCOME]["properties"]) == set(outcome.as_json())


def test_it_publishes_a_valid_openapi_document(schema):
    validate_schema(schema)


def test_it_refuses_unknown_fields_at_the_top_of_the_body(schema):
    body = schema["components"]["schemas"][BODY]
    assert body["additionalProperties"] is False
    assert set(body["required"]) == {
        "schema",
        "batch_id",
        "device_id",
        "site",
        "region",
        "model",
        "buckets",
    }


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        (VALID, True),
        (_changed("buckets.0.counts.0.direction", None), True),
        (_changed("buckets.0.counts.0.direction", DELETE), True),
        (_changed("buckets.0.speeds", DELETE), True),
        (_changed("extra", 1), False),
        (_changed("buckets.0.extra", 1), False),
        (_changed("buckets.0.counts.0.extra", 1), False),
        (_changed("buckets", DELETE), False),
        (_changed("buckets", []), False),
        (_changed("schema", "junction.batch/v2"), False),
        (_changed("model.sha256", "D" * 64), False),
        (_changed("buckets.0.seconds", 0), False),
        (_changed("buckets.0.uptime", 1.5), False),
        (_changed("buckets.0.counts.0.class", "tram"), False),
        (_changed("buckets.0.counts.0.count", -1), False),
        (_changed("buckets.0.counts.0.count", "12"), False),
        (_changed("buckets.0.counts.0.direction", "sideways"), False),
        (_changed("device_id", ""), False),
    ],
)
def test_it_publishes_a_body_schema_that_agrees_with_the_pydantic_model(schema, body, accepted):
    components = _json_schema(schema["components"]["schemas"])
    document = {**components[BODY], "components": {"schemas": components}}
    try:
        BatchIn.model_validate_json(json.dumps(body))  # as junction.ingest.schema.batch_parse
        parsed = True
    except ValidationError:
        parsed = False
    assert parsed is accepted
    assert jsonschema.Draft7Validator(document).is_valid(body) is accepted
