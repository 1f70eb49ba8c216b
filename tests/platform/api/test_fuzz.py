"""Schemathesis fuzzes every operation of the live schema: no answer may be a 5xx, have a
status the schema does not list, or break the body, content type or headers it documents.

Bounded for CI (a few dozen generated calls per operation); run with more examples by
setting JUNCTION_FUZZ_EXAMPLES."""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from junction.accounts.services import api_token_create
from tests.platform.staff import staff

EXAMPLES = int(os.environ.get("JUNCTION_FUZZ_EXAMPLES", "15"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def served_schema() -> dict:
    """The schema /api/schema/ serves, generated in process (no database is needed for it)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))


@pytest.fixture
def in_process(db, eu_site, us_site):
    # Calls go through Django's WSGI handler inside the test's transaction: like Django's test
    # client, keep the request cycle from closing the test's database connections.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def credentials(eu_west):
    """An integrator's token (DESIGN.md section 9) of an eu-west operator."""
    user = staff("fuzzer", eu_west="operator")
    issued = api_token_create(user=user, name="fuzzing")
    return {"Authorization": f"Bearer {issued.token}"}


schema = schemathesis.openapi.from_dict(served_schema())
schema.app = WSGIHandler()


@schema.include(path_regex=r"^/api/v1/(?!ingest/)").parametrize()
# Generated calls and schemathesis' coverage cases (boundaries, wrong types, missing values);
# no shrinking, so a failure costs no extra minutes in CI: its curl line reproduces it.
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_outside_its_schema(case, in_process, credentials):
    case.call_and_validate(headers=credentials, checks=CHECKS)
