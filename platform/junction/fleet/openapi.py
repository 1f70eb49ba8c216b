"""The fleet's device endpoints in the OpenAPI schema at /api/schema/: the check-in and the
region's TUF repository (metadata and targets), for whoever builds a device client.

Like ingest (junction.ingest.openapi), these are plain Django views, as the signature covers the
raw body or the request line before anything parses it, so drf-spectacular cannot discover them.
This postprocessing hook adds them from what the endpoints run on: the URL conf for the paths,
the check-in's pydantic model for the body, the update states for the answer, and ingest's error
shape, which every refusal here shares. Nothing here changes how a request is handled.
"""

from __future__ import annotations

import copy
from typing import Any

from django.urls import reverse

from junction.fleet.checkin import CheckinIn
from junction.fleet.models import UpdateState
from junction.fleet.views import CHECKIN_MAX_BYTES, IMMUTABLE_CACHE, MUTABLE_CACHE
from junction.ingest import errors
from junction.ingest.openapi import REFUSAL, body_schema_components

PREFIX = "Fleet"
CHECKIN = f"{PREFIX}{CheckinIn.__name__}"
ANSWER = f"{PREFIX}CheckinAnswer"
ERROR = f"{PREFIX}Error"
NOT_FOUND = f"{PREFIX}NotFound"

_SIGNED_HEADERS = (
    ("X-Junction-Device", "The device id the request is signed by.", {"type": "string"}),
    (
        "X-Junction-Timestamp",
        "Unix seconds of this request; refused when more than 300 s from server time.",
        {"type": "string", "pattern": r"^[0-9]+$"},
    ),
)


def _signature(signed: str) -> tuple[str, str, dict]:
    return (
        "X-Junction-Signature",
        f'v1=<hex HMAC-SHA256(device secret, "<timestamp>.{signed}")>, as an ingest batch is '
        "signed (DESIGN.md section 4).",
        {"type": "string", "pattern": r"^v1=[0-9a-f]{64}$"},
    )


_ANSWER = {
    "type": "object",
    "required": ["device_id", "state", "desired", "poll_seconds"],
    "properties": {
        "device_id": {"type": "string"},
        "state": {
            "type": "string",
            "enum": list(UpdateState.values),
            "description": "The device's update state as the platform now records it: "
            "`pending` when it still runs something else than the release it was offered.",
        },
        "desired": {
            "type": "object",
            "nullable": True,
            "description": "The release the device should run; null: stay on what it runs "
            "(no rollout offers it one, or it rolled the offered one back).",
            "required": ["release", "targets"],
            "properties": {
                "release": {"type": "string"},
                "targets": {
                    "type": "object",
                    "description": "The TUF target paths to fetch and verify through the "
                    "region's repository; a release has a model, a site-config patch, or both.",
                    "properties": {"model": {"type": "string"}, "config": {"type": "string"}},
                    "additionalProperties": False,
                },
            },
        },
        "poll_seconds": {
            "type": "integer",
            "minimum": 1,
            "description": "How long to wait before the next check-in (add jitter).",
        },
    },
}


def _error() -> dict[str, Any]:
    shape: dict[str, Any] = copy.deepcopy(REFUSAL)
    shape["properties"]["endpoint"].update(
        nullable=True,
        description="421: that region's endpoint (null for a region this deployment does not know)",
    )
    return shape


def _not_found() -> dict[str, Any]:
    shape: dict[str, Any] = copy.deepcopy(REFUSAL)
    shape["required"] = ["detail"]
    shape["description"] = (
        "A file this region's repository does not hold (error `not_found`, field `path`); a "
        "path that is no fleet path at all (say, a region code with a dot) says only `detail`."
    )
    return shape


# What each refusal means at these endpoints (ingest's wording speaks of batches).
_REFUSALS: dict[type[errors.IngestRefused], str] = {
    errors.Unauthenticated: "Bad or missing signature, stale timestamp, replayed signature "
    "(check-in), or unknown device.",
    errors.Forbidden: "A known device that may not use this region's endpoint: revoked, or "
    "of another region.",
    errors.Misdirected: "The region is not served by this node; `endpoint` says where to go.",
    errors.TooManyFailures: "Too many bad signatures from this device id or address lately; "
    "Retry-After says when to try again.",
    errors.Unavailable: "The database or the replay store cannot answer just now; retry.",
}


def _json(component: str) -> dict:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}}


def _refusal(refusal: type[errors.IngestRefused], description: str) -> tuple[str, dict]:
    headers = {name: {"schema": {"type": "string"}} for name in refusal("", "", "").headers()}
    response: dict[str, Any] = {"description": description, "content": _json(ERROR)}
    if headers:
        response["headers"] = headers
    return str(refusal.status), response


def _parameters(*headers: tuple[str, str, dict], path: list[tuple[str, str, dict]]) -> list:
    return [
        *(
            {"name": name, "in": "path", "required": True, "description": doc, "schema": schema}
            for name, doc, schema in path
        ),
        *(
            {"name": name, "in": "header", "required": True, "description": doc, "schema": schema}
            for name, doc, schema in headers
        ),
    ]


# As the URL conf's `slug` converter matches it: any other string is no fleet path at all.
REGION = (
    "region",
    "The region's code; a device only talks to its own.",
    {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
)


def _file_operation(
    *, operation_id: str, summary: str, description: str, name: tuple[str, str, dict], body: dict
) -> dict:
    cache_headers = {
        "ETag": {
            "description": "The file's SHA-256 in quotes: send it as If-None-Match.",
            "schema": {"type": "string"},
        },
        "Cache-Control": {
            "description": f"`{MUTABLE_CACHE}` for timestamp.json and root.json, which change "
            f"under their name; `{IMMUTABLE_CACHE}` for versioned and hashed names.",
            "schema": {"type": "string"},
        },
    }
    responses = {
        "200": {
            "description": "The file, byte for byte as signed.",
            "content": body,
            "headers": cache_headers,
        },
        "304": {"description": "Unchanged since the ETag sent in If-None-Match."},
        "404": {
            "description": "No such file in this region's repository, or no such fleet path.",
            "content": _json(NOT_FOUND),
        },
    }
    for refusal, words in _REFUSALS.items():
        status, response = _refusal(refusal, words)
        responses[status] = response
    parameters = _parameters(*_SIGNED_HEADERS, _signature("GET <path>"), path=[REGION, name])
    parameters.append(
        {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "description": "The ETag of the copy the device holds.",
            "schema": {"type": "string"},
        }
    )
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": ["fleet"],
        # Devices authenticate by the HMAC headers, not by session or token.
        "security": [],
        "parameters": parameters,
        "responses": dict(sorted(responses.items())),
    }


def metadata_operation() -> dict:
    return _file_operation(
        operation_id="fleet_metadata_retrieve",
        summary="One signed TUF metadata file of the region's repository",
        description="The Update Framework's top-level roles (DESIGN.md section 10), as "
        "python-tuf's ngclient asks for them: `timestamp.json` and `root.json` (the latest), "
        "`<version>.root.json` for root rotation, `<version>.snapshot.json` and "
        "`<version>.targets.json` (consistent snapshots). The request line signed is `GET "
        "<path>`: no body.",
        name=(
            "name",
            "timestamp.json, root.json, or <version>.<root|snapshot|targets>.json",
            {"type": "string", "pattern": r"^([0-9]+\.)?(root|snapshot|targets|timestamp)\.json$"},
        ),
        body={
            "application/json": {"schema": {"type": "object", "required": ["signed", "signatures"]}}
        },
    )


def target_operation() -> dict:
    body = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    operation = _file_operation(
        operation_id="fleet_targets_retrieve",
        summary="One target file (a model or a site-config patch) of the region's repository",
        description="By its consistent-snapshot name, `<folder>/<sha256>.<file name>`, the path "
        "the check-in names with the SHA-256 that the targets metadata signs. Verify it through "
        "TUF before installing; the request line signed is `GET <path>`. A download that was "
        "cut goes on with `Range: bytes=<bytes held>-`; verify the whole file all the same.",
        name=(
            "name",
            "<folder>/<sha256>.<file name>, e.g. v2/<64 hex>.model.onnx",
            {"type": "string", "minLength": 1},
        ),
        body=body,
    )
    operation["parameters"].append(
        {
            "name": "Range",
            "in": "header",
            "required": False,
            "description": "One range, `bytes=START-` or `bytes=START-END`: only those bytes "
            "(206). Any other form is ignored and the whole file is the answer.",
            "schema": {"type": "string"},
        }
    )
    responses = operation["responses"]
    responses["200"]["headers"]["Accept-Ranges"] = {"schema": {"type": "string", "enum": ["bytes"]}}
    responses["206"] = {
        "description": "The bytes the Range asked for (clipped to the file's end).",
        "content": body,
        "headers": {
            **responses["200"]["headers"],
            "Content-Range": {
                "description": "bytes START-END/LENGTH",
                "schema": {"type": "string", "pattern": r"^bytes [0-9]+-[0-9]+/[0-9]+$"},
            },
        },
    }
    responses["416"] = {
        "description": "The Range starts at or past the file's end (the device holds it all).",
        "content": _json(ERROR),
        "headers": {
            "Content-Range": {
                "description": "bytes */LENGTH",
                "schema": {"type": "string", "pattern": r"^bytes \*/[0-9]+$"},
            }
        },
    }
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def checkin_operation() -> dict:
    responses: dict[str, Any] = {
        "200": {
            "description": "Recorded; the rollout re-judged; the release the device should run.",
            "content": _json(ANSWER),
        },
        "404": {"description": "No such fleet path.", "content": _json(NOT_FOUND)},
    }
    for refusal, words in {
        **_REFUSALS,
        errors.TooLarge: f"The body is over {CHECKIN_MAX_BYTES} bytes; `max_bytes` says so.",
        errors.Invalid: "The body breaks the schema, or names another device than the signing "
        "one; `field` names where, `error` the rule.",
    }.items():
        status, response = _refusal(refusal, words)
        responses[status] = response
    return {
        "operationId": "fleet_checkin_create",
        "summary": "A device reports what it runs and where its update stands",
        "description": "Signed over the raw body like an ingest batch; a signature already "
        "seen is refused. The answer names the release the device should run and when to "
        "check in again. Unknown fields are refused.",
        "tags": ["fleet"],
        "security": [],
        "parameters": _parameters(*_SIGNED_HEADERS, _signature("<raw body>"), path=[REGION]),
        "requestBody": {"required": True, "content": _json(CHECKIN)},
        "responses": dict(sorted(responses.items())),
    }


def checkin_schema_components() -> dict[str, dict]:
    """The check-in body as OpenAPI 3.0 components, from the pydantic model that parses it."""
    return body_schema_components(CheckinIn, PREFIX)


def _path(url_name: str, *placeholders: str) -> str:
    """The URL conf's path with OpenAPI's `{placeholder}` in place of each argument."""
    url = reverse(url_name, kwargs={key: key.upper() for key in placeholders})
    for key in placeholders:
        url = url.replace(key.upper(), "{" + key + "}")
    return url


def fleet_schema_add(
    result: dict, generator: Any, request: Any, public: bool, **kwargs: Any
) -> dict:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(checkin_schema_components())
    schemas[ANSWER] = _ANSWER
    schemas[ERROR] = _error()
    schemas[NOT_FOUND] = _not_found()
    paths = result.setdefault("paths", {})
    paths[_path("fleet:metadata", "region", "name")] = {"get": metadata_operation()}
    paths[_path("fleet:target", "region", "name")] = {"get": target_operation()}
    paths[_path("fleet:checkin", "region")] = {"post": checkin_operation()}
    return result
