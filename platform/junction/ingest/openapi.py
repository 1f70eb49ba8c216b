"""`POST /api/v1/ingest/batches` in the OpenAPI schema at /api/schema/.

The endpoint is a plain Django view on purpose (its raw body is read for the HMAC before any
parsing), so drf-spectacular cannot discover it. This postprocessing hook adds it from the
sources the endpoint itself runs on: the URL conf for the path, the pydantic model for the body,
the refusal classes for the error statuses. Nothing here changes how a request is handled.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from pydantic import BaseModel

from junction.ingest import errors
from junction.ingest.schema import BatchIn

# Component names carry a prefix so they cannot collide with the DRF API's serializers.
PREFIX = "Ingest"
BODY = f"{PREFIX}{BatchIn.__name__}"
ERROR = f"{PREFIX}Error"
OUTCOME = f"{PREFIX}Outcome"

HEADERS = (
    ("X-Junction-Device", "The device id the batch is signed by.", {"type": "string"}),
    (
        "X-Junction-Timestamp",
        "Unix seconds of this attempt; refused when more than 300 s from server time.",
        {"type": "string", "pattern": r"^[0-9]+$"},
    ),
    (
        "X-Junction-Signature",
        'v1=<hex HMAC-SHA256(device secret, "<timestamp>.<raw body>")>; each attempt is '
        "signed afresh, a signature already seen is refused.",
        {"type": "string", "pattern": r"^v1=[0-9a-f]{64}$"},
    ),
    (
        "Idempotency-Key",
        "The body's batch_id: a retry of a stored batch answers 200 and stores nothing again.",
        {"type": "string", "format": "uuid"},
    ),
)

_OUTCOME = {
    "type": "object",
    "required": [
        "batch_id",
        "status",
        "buckets",
        "no_data_buckets",
        "count_rows",
        "buckets_replaced",
        "rows_not_stored",
    ],
    "properties": {
        "batch_id": {"type": "string", "format": "uuid"},
        "status": {"type": "string", "enum": ["stored", "already_stored"]},
        "buckets": {"type": "integer", "minimum": 0},
        "no_data_buckets": {"type": "integer", "minimum": 0},
        "count_rows": {"type": "integer", "minimum": 0},
        "buckets_replaced": {"type": "integer", "minimum": 0},
        "rows_not_stored": {"type": "integer", "minimum": 0},
    },
}

REFUSAL = {
    "type": "object",
    "description": "Every refusal; nothing was stored.",
    "required": ["error", "field", "detail"],
    "properties": {
        "error": {"type": "string", "description": "The rule, e.g. unknown_field"},
        "field": {"type": "string", "description": "Where: a header or a body path"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "422 for a body: up to 20 broken fields",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "detail": {"type": "string"}},
            },
        },
        "max_bytes": {"type": "integer", "description": "413: the accepted body size"},
        "region": {"type": "string", "description": "421: the device's region"},
        "endpoint": {"type": "string", "description": "421: that region's endpoint"},
    },
}


def batch_schema_components() -> dict[str, dict]:
    """The v1 batch body as OpenAPI 3.0 components, from the pydantic model that parses it."""
    return body_schema_components(BatchIn, PREFIX)


def body_schema_components(model: type[BaseModel], prefix: str) -> dict[str, dict]:
    """A device-signed request body as OpenAPI 3.0 components, from the pydantic model that
    parses it (one definition of the contract): `<prefix><Model>` and its parts, prefixed so
    that they cannot collide with the DRF API's serializers."""
    schema = model.model_json_schema(
        by_alias=True, ref_template=f"#/components/schemas/{prefix}{{model}}"
    )
    parts = schema.pop("$defs", {})
    components = {f"{prefix}{name}": _oas30(part) for name, part in parts.items()}
    components[f"{prefix}{model.__name__}"] = _oas30(schema)
    return components


def _oas30(node: Any) -> Any:
    """JSON Schema 2020-12 as pydantic writes it -> the OpenAPI 3.0 dialect of the document."""
    if isinstance(node, list):
        return [_oas30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _oas30(value) for key, value in node.items()}
    if "const" in node:
        node["enum"] = [node.pop("const")]
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        limit = node.get(exclusive)
        if isinstance(limit, int | float) and not isinstance(limit, bool):
            node[bound], node[exclusive] = limit, True
    options = node.get("anyOf")
    if options and {"type": "null"} in options:
        rest = [option for option in node.pop("anyOf") if option != {"type": "null"}]
        if len(rest) == 1 and "$ref" not in rest[0]:
            node.update(rest[0])
        else:
            node["anyOf"] = rest
        node["nullable"] = True
        if "enum" in node:  # OpenAPI 3.0.3: nullable does not widen an enum by itself
            node["enum"] = [*node["enum"], None]
    return node


def _refusals() -> list[type[errors.IngestRefused]]:
    found, pending = [], list(errors.IngestRefused.__subclasses__())
    while pending:
        refusal = pending.pop(0)
        found.append(refusal)
        pending.extend(refusal.__subclasses__())
    return sorted(found, key=lambda refusal: refusal.status)


def _response(description: str, component: str, headers: dict | None = None) -> dict:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def batch_operation() -> dict:
    responses = {
        "201": _response("Stored.", OUTCOME),
        "200": _response("The same batch again: already stored, nothing duplicated.", OUTCOME),
    }
    for refusal in _refusals():
        doc = " ".join((refusal.__doc__ or refusal.__name__).split())
        headers = {name: {"schema": {"type": "string"}} for name in refusal("", "", "").headers()}
        responses[str(refusal.status)] = _response(doc, ERROR, headers)
    return {
        "operationId": "ingest_batches_create",
        "summary": "Store one signed batch of buckets from an edge device",
        "description": "The edge -> platform batch contract v1 (DESIGN.md section 4). Each "
        "attempt is signed afresh by the device over the raw body; the signature is checked "
        "before the body is parsed. Unknown fields are refused.",
        "tags": ["ingest"],
        # Devices authenticate by the HMAC headers, not by session or token.
        "security": [],
        "parameters": [
            {"name": name, "in": "header", "required": True, "description": doc, "schema": schema}
            for name, doc, schema in HEADERS
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{BODY}"}}},
        },
        "responses": dict(sorted(responses.items())),
    }


def ingest_schema_add(
    result: dict, generator: Any, request: Any, public: bool, **kwargs: Any
) -> dict:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(batch_schema_components())
    schemas[OUTCOME] = _OUTCOME
    schemas[ERROR] = REFUSAL
    result.setdefault("paths", {})[reverse("ingest:batches")] = {"post": batch_operation()}
    return result
