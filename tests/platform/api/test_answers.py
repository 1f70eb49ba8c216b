"""Every answer the API can give is in its OpenAPI schema with its body and headers, and the
bodies it really sends match what the schema says (checked with jsonschema against the served
schema, so the documentation cannot drift from the code)."""

from __future__ import annotations

from datetime import UTC, datetime

import jsonschema
import pytest
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from junction.accounts.throttling import StaffRateThrottle
from tests.platform.staff import counts_add

ALWAYS = {"400", "401", "403", "429", "503"}


@pytest.fixture
def schema(client):
    answer = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert answer.status_code == 200
    return answer.json()


def operations(schema):
    """The integrators' operations: not the device endpoints (ingest, fleet), which a device
    signs by HMAC headers rather than calling with a token, and answer in their own shape."""
    for path, methods in schema["paths"].items():
        if path.startswith("/api/v1/"):
            for method, operation in methods.items():
                if not device_signed(operation):
                    yield f"{method.upper()} {path}", operation


def device_signed(operation) -> bool:
    return any(p["name"] == "X-Junction-Signature" for p in operation.get("parameters", []))


def test_every_operation_documents_the_answers_any_call_can_get(schema):
    found = dict(operations(schema))
    assert "GET /api/v1/sites/{slug}/counts" in found, sorted(found)
    for name, operation in found.items():
        statuses = set(operation["responses"])
        assert ALWAYS <= statuses, name
        assert ("404" in statuses) == ("{" in name), name
        responses = operation["responses"]
        assert "WWW-Authenticate" in responses["401"]["headers"], name
        assert "Retry-After" in responses["429"]["headers"], name
        assert "Retry-After" in responses["503"]["headers"], name


def test_triage_steps_document_409(schema):
    conflicts = {name for name, op in operations(schema) if "409" in op["responses"]}
    assert conflicts == {
        "POST /api/v1/regions/{code}/anomalies/{id}/acknowledge",
        "POST /api/v1/regions/{code}/anomalies/{id}/resolve",
    }


def documented_body(schema, method, path, status):
    response = schema["paths"][path][method]["responses"][str(status)]
    return {**response["content"]["application/json"]["schema"], "components": schema["components"]}


def assert_documented(schema, answer, method, path):
    assert str(answer.status_code) in schema["paths"][path][method]["responses"], answer.content
    jsonschema.validate(answer.json(), documented_body(schema, method, path, answer.status_code))


COUNTS = "/api/v1/sites/{slug}/counts"


def test_a_bad_query_is_answered_as_documented(schema, eu_analyst, eu_site):
    api = APIClient()
    api.force_authenticate(eu_analyst)
    answer = api.get(
        reverse("api:site-counts", kwargs={"slug": eu_site.slug}), {"start": "yesterday"}
    )
    assert answer.status_code == 400
    assert_documented(schema, answer, "get", COUNTS)


def test_a_missing_site_and_another_regions_site_are_answered_as_documented(
    schema, eu_analyst, us_site
):
    api = APIClient()
    api.force_authenticate(eu_analyst)
    missing = api.get(reverse("api:site-counts", kwargs={"slug": "no-such-site"}))
    assert missing.status_code == 404
    assert_documented(schema, missing, "get", COUNTS)
    foreign = api.get(reverse("api:site-counts", kwargs={"slug": us_site.slug}))
    assert foreign.status_code == 403
    assert_documented(schema, foreign, "get", COUNTS)


def test_a_call_without_credentials_is_answered_as_documented(schema, eu_site):
    answer = APIClient().get(reverse("api:site-counts", kwargs={"slug": eu_site.slug}))
    assert answer.status_code in (401, 403)
    assert_documented(schema, answer, "get", COUNTS)


def test_a_region_on_another_node_is_answered_as_documented(schema, eu_analyst, eu_site):
    api = APIClient()
    api.force_authenticate(eu_analyst)
    with override_settings(SERVED_REGIONS=("us-east",), JUNCTION_REGION="us-east"):
        answer = api.get(reverse("api:site-counts", kwargs={"slug": eu_site.slug}))
    assert answer.status_code == 421
    assert_documented(schema, answer, "get", COUNTS)


def test_a_throttled_call_is_answered_as_documented(schema, monkeypatch, eu_analyst):
    monkeypatch.setattr(StaffRateThrottle, "THROTTLE_RATES", {"user": "1/minute"})
    api = APIClient()
    api.force_authenticate(eu_analyst)
    assert api.get("/api/v1/regions").status_code == 200
    answer = api.get("/api/v1/regions")
    assert answer.status_code == 429
    assert_documented(schema, answer, "get", "/api/v1/regions")


def test_a_success_matches_its_documented_body_too(schema, eu_analyst, eu_site):
    counts_add(eu_site, datetime(2026, 11, 27, 6, tzinfo=UTC), [("north-stopline", "in", "car", 4)])
    api = APIClient()
    api.force_authenticate(eu_analyst)
    answer = api.get(
        reverse("api:site-counts", kwargs={"slug": eu_site.slug}),
        {"start": "2026-11-27T06:00:00Z", "end": "2026-11-27T07:00:00Z"},
    )
    assert answer.status_code == 200
    assert_documented(schema, answer, "get", COUNTS)
