"""The fleet's device endpoints (check-in, TUF metadata and targets), plain Django views, are in
the OpenAPI schema with their signed headers and every answer they give, a check-in body that
accepts and refuses what the pydantic model does, and answers the real endpoints match."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from pydantic import ValidationError

from junction.fleet.checkin import CheckinIn
from junction.fleet.openapi import ANSWER, CHECKIN, ERROR, NOT_FOUND
from tests.platform.fleet.conftest import checkin, command_json, publish, repo_get
from tests.platform.ingest.test_openapi import _json_schema

CHECKIN_PATH = "/api/v1/fleet/{region}/checkin"
METADATA_PATH = "/api/v1/fleet/{region}/metadata/{name}"
TARGET_PATH = "/api/v1/fleet/{region}/targets/{name}"
SIGNED = {"X-Junction-Device", "X-Junction-Timestamp", "X-Junction-Signature"}
REFUSED = {"401", "403", "421", "429", "503"}

JSON = {"content_type": "application/json"}
VALID = {"schema": "junction.checkin/v1", "device_id": "dev-main-5th-n", "state": "current"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def components(schema: dict) -> dict:
    return _json_schema(schema["components"]["schemas"])


def conforms(schema: dict, component: str, answer: dict) -> bool:
    found = components(schema)
    document = {**found[component], "components": {"schemas": found}}
    return jsonschema.Draft7Validator(document).is_valid(answer)


def test_it_publishes_a_valid_openapi_document(schema):
    validate_schema(schema)


@pytest.mark.parametrize(
    ("path", "method", "answers"),
    [
        (CHECKIN_PATH, "post", {"200", "404", "413", "422"} | REFUSED),
        (METADATA_PATH, "get", {"200", "304", "404"} | REFUSED),
        (TARGET_PATH, "get", {"200", "206", "304", "404", "416"} | REFUSED),
    ],
)
def test_it_publishes_each_path_with_its_signed_headers_and_answers(schema, path, method, answers):
    operation = schema["paths"][path][method]
    required = {p["name"] for p in operation["parameters"] if p["in"] == "header" and p["required"]}
    assert required == SIGNED
    assert {p["name"] for p in operation["parameters"] if p["in"] == "path"} == set(
        part.strip("{}") for part in path.split("/") if part.startswith("{")
    )
    assert set(operation["responses"]) == answers and operation["security"] == []
    for status in answers - {"200", "206", "304"}:
        shape = NOT_FOUND if status == "404" else ERROR
        assert operation["responses"][status]["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{shape}"
        }, status
    assert "Retry-After" in operation["responses"]["429"]["headers"]
    assert "Retry-After" in operation["responses"]["503"]["headers"]


def test_a_get_says_what_it_signs_and_how_to_revalidate(schema):
    operation = schema["paths"][METADATA_PATH]["get"]
    signature = next(p for p in operation["parameters"] if p["name"] == "X-Junction-Signature")
    assert '"<timestamp>.GET <path>"' in signature["description"]
    assert {"ETag", "Cache-Control"} <= set(operation["responses"]["200"]["headers"])
    assert any(p["name"] == "If-None-Match" for p in operation["parameters"])
    target = schema["paths"][TARGET_PATH]["get"]
    assert target["responses"]["200"]["content"] == {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
    }
    # A cut download resumes: Range asked, 206 with Content-Range answered.
    assert any(p["name"] == "Range" for p in target["parameters"])
    assert "Content-Range" in target["responses"]["206"]["headers"]


def _changed(**fields) -> dict:
    body = copy.deepcopy(VALID)
    body.update(fields)
    return body


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        (VALID, True),
        (_changed(state="active", release="v2", installed="v2"), True),
        (_changed(extra=1), False),
        (_changed(schema="junction.checkin/v2"), False),
        (_changed(state="exploded"), False),
        (_changed(device_id=""), False),
        (_changed(reason="x" * 2001), False),
        ({k: v for k, v in VALID.items() if k != "state"}, False),
    ],
)
def test_it_publishes_a_body_schema_that_agrees_with_the_pydantic_model(schema, body, accepted):
    try:
        CheckinIn.model_validate_json(json.dumps(body))  # as junction.fleet.checkin_parse
        parsed = True
    except ValidationError:
        parsed = False
    assert parsed is accepted
    assert conforms(schema, CHECKIN, body) is accepted


def test_it_describes_the_rules_the_schema_cannot_say(schema):
    # A release for every state but current, a reason for a rollback: said in words.
    description = schema["components"]["schemas"][CHECKIN]["description"]
    assert "`release`" in description and "`reason`" in description


def test_the_real_answers_match_the_schema(
    schema, client, eu_repo, config_patch, eu_device, clean_cache
):
    publish("v2", config=config_patch)
    idle = checkin(client, eu_device, state="current")
    assert idle.status_code == 200 and idle.json()["desired"] is None
    assert conforms(schema, ANSWER, idle.json())
    command_json("rollout_start", "v2", "--region", "eu-west", "--devices", eu_device.device_id)
    offered = checkin(client, eu_device, state="current").json()
    assert offered["desired"]["release"] == "v2" and conforms(schema, ANSWER, offered)

    for answer, status in (
        (checkin(client, eu_device, state="rolled_back", release="v2"), 422),  # no reason
        (checkin(client, eu_device, region="mars-north", state="current"), 421),  # no endpoint
        (client.post(CHECKIN_PATH.format(region="eu-west"), data=b"{}", **JSON), 401),
    ):
        assert answer.status_code == status, answer.content
        assert conforms(schema, ERROR, answer.json()), answer.json()
    for answer in (
        repo_get(client, eu_device, METADATA_PATH.format(region="eu-west", name="9.root.json")),
        client.post(CHECKIN_PATH.format(region="eu.west"), data=b"{}", **JSON),  # no such path
    ):
        assert answer.status_code == 404, answer.content
        assert conforms(schema, NOT_FOUND, answer.json()), answer.json()
