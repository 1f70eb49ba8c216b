"""Integrators call the API with `Authorization: Bearer <token>` (DESIGN.md section 9): the
token acts as its user, narrowed to one region and to reading when issued so; a missing, bad,
expired or revoked token is a 401 with a Bearer challenge; Basic and sessions keep working;
every call is audited in the region it reads."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from junction.accounts import tokens
from junction.accounts.models import ApiToken
from junction.accounts.services import api_token_create, api_token_revoke, membership_grant
from junction.residency.models import AuditEvent
from tests.platform.api.factories import anomaly_add
from tests.platform.staff import counts_add

COUNTS = "/api/v1/sites/{}/counts?start=2026-11-24T00:00:00Z&end=2026-11-25T00:00:00Z"


def bearer(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def region_codes(api: APIClient) -> list[str]:
    answer = api.get("/api/v1/regions")
    assert answer.status_code == 200, answer.content
    return [region["code"] for region in answer.json()["results"]]


def token_uses(region: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.in_region(region).filter(action="token_use"))


@pytest.fixture
def both_regions_operator(eu_west, us_east):
    user = get_user_model().objects.create_user(username="ops", password=None)
    membership_grant(user=user, region="eu-west", role="operator")
    membership_grant(user=user, region="us-east", role="operator")
    return user


@pytest.fixture
def sites_with_counts(eu_site, us_site):
    for site, counter in ((eu_site, "north-stopline"), (us_site, "south-stopline")):
        counts_add(site, datetime(2026, 11, 24, 7, tzinfo=UTC), [(counter, "in", "car", 12)])
    return eu_site, us_site


def test_it_answers_a_token_as_its_user(eu_analyst, sites_with_counts):
    issued = api_token_create(user=eu_analyst, name="city data team")
    api = bearer(issued.token)
    assert region_codes(api) == ["eu-west"]
    assert api.get(COUNTS.format("main-and-5th")).status_code == 200
    assert api.get(COUNTS.format("broadway-and-king")).status_code == 403


def test_it_keeps_only_a_hash_of_the_token(eu_analyst):
    issued = api_token_create(user=eu_analyst, name="vendor")
    row = ApiToken.objects.get(pk=issued.api_token.pk)
    stored = [str(getattr(row, field.attname)) for field in ApiToken._meta.concrete_fields]
    assert not any(issued.token in value or issued.token[13:] in value for value in stored)
    assert row.digest == tokens.token_digest(issued.token)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer a b",
        "Bearer jct_nothing_here",
        "Bearer jct_0000000_x",
        "Bearer \u00e9t\u00e9",
    ],
)
def test_it_answers_401_with_a_bearer_challenge(eu_analyst, header):
    api_token_create(user=eu_analyst, name="real one")
    api = APIClient()
    if header is not None:
        api.credentials(HTTP_AUTHORIZATION=header.encode("utf-8").decode("latin-1"))
    answer = api.get("/api/v1/regions")
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"].startswith('Bearer realm="api"')
    assert ('error="invalid_token"' in answer["WWW-Authenticate"]) == (header is not None)


def test_it_refuses_a_token_whose_secret_part_is_wrong(eu_analyst):
    issued = api_token_create(user=eu_analyst, name="vendor")
    forged = issued.token[:-4] + ("AAAA" if not issued.token.endswith("AAAA") else "BBBB")
    assert bearer(forged).get("/api/v1/regions").status_code == 401


def test_it_refuses_an_expired_a_revoked_and_an_inactive_users_token(eu_analyst, us_analyst):
    expired = api_token_create(user=eu_analyst, name="old")
    ApiToken.objects.filter(pk=expired.api_token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    revoked = api_token_create(user=eu_analyst, name="leaked")
    api_token_revoke(api_token_id=revoked.api_token.pk)
    inactive = api_token_create(user=us_analyst, name="left the city")
    get_user_model().objects.filter(pk=us_analyst.pk).update(is_active=False)
    for issued, reason in ((expired, "expired"), (revoked, "revoked"), (inactive, "inactive")):
        answer = bearer(issued.token).get("/api/v1/regions")
        assert answer.status_code == 401
        assert reason in answer.json()["detail"]


def test_basic_and_sessions_keep_working_and_a_wrong_password_is_401(eu_analyst, eu_site):
    eu_analyst.set_password("right-password-1")
    eu_analyst.save()
    for password, status in (("right-password-1", 200), ("wrong", 401)):
        api = APIClient()
        basic = base64.b64encode(f"eu-analyst:{password}".encode()).decode()
        api.credentials(HTTP_AUTHORIZATION=f"Basic {basic}")
        assert api.get("/api/v1/regions").status_code == status
    api = APIClient()
    api.force_login(eu_analyst)
    assert region_codes(api) == ["eu-west"]


def test_a_token_narrowed_to_a_region_reaches_only_that_region(
    both_regions_operator, sites_with_counts
):
    narrowed = bearer(
        api_token_create(user=both_regions_operator, name="eu only", region="eu-west").token
    )
    assert region_codes(narrowed) == ["eu-west"]
    assert narrowed.get(COUNTS.format("main-and-5th")).status_code == 200
    answer = narrowed.get(COUNTS.format("broadway-and-king"))
    assert answer.status_code == 403
    # The same user's session, and an unnarrowed token of theirs, still reach both regions.
    whole = bearer(api_token_create(user=both_regions_operator, name="all").token)
    assert region_codes(whole) == ["eu-west", "us-east"]


def test_a_read_only_token_reads_but_cannot_triage(eu_operator, eu_site):
    anomaly = anomaly_add(eu_site)
    reader = bearer(api_token_create(user=eu_operator, name="reader", read_only=True).token)
    assert reader.get("/api/v1/regions/eu-west/anomalies").status_code == 200
    path = f"/api/v1/regions/eu-west/anomalies/{anomaly.pk}/acknowledge"
    assert reader.post(path).status_code == 403
    writer = bearer(api_token_create(user=eu_operator, name="writer").token)
    assert writer.post(path).status_code == 200


def test_a_superusers_narrowed_token_loses_see_everything(admin_user, sites_with_counts):
    whole = bearer(api_token_create(user=admin_user, name="admin all").token)
    assert region_codes(whole) == ["eu-west", "us-east"]
    narrowed = bearer(
        api_token_create(user=admin_user, name="admin us", region="us-east", read_only=True).token
    )
    assert region_codes(narrowed) == ["us-east"]
    assert narrowed.get(COUNTS.format("main-and-5th")).status_code == 403
    assert narrowed.get(COUNTS.format("broadway-and-king")).status_code == 200


def test_every_use_is_audited_in_the_region_it_reads(both_regions_operator, sites_with_counts):
    issued = api_token_create(user=both_regions_operator, name="nightly export")
    api = bearer(issued.token)
    for _ in range(3):
        assert api.get(COUNTS.format("main-and-5th")).status_code == 200
    assert token_uses("us-east") == []
    [row] = token_uses("eu-west")
    # Repeated calls share the hour's row (audit_repeated), counted, never lost.
    assert (row.actor, row.repeats, row.detail) == (
        "ops",
        3,
        {"token": issued.api_token.key, "name": "nightly export"},
    )
    # A call that reads no region's database (the catalogue) is audited where the token reaches.
    assert api.get("/api/v1/sites").status_code == 200
    assert [r.repeats for r in token_uses("eu-west")] == [4]
    assert [r.repeats for r in token_uses("us-east")] == [1]


def test_sessions_are_not_audited_as_token_uses(eu_analyst, sites_with_counts):
    api = APIClient()
    api.force_login(eu_analyst)
    assert api.get(COUNTS.format("main-and-5th")).status_code == 200
    assert token_uses("eu-west") == []


def test_it_withholds_the_answer_when_the_use_cannot_be_audited(
    eu_analyst, sites_with_counts, monkeypatch
):
    def audit_down(**kwargs):
        raise DatabaseError("region log unreachable")

    monkeypatch.setattr(tokens, "token_use_audit", audit_down)
    answer = bearer(api_token_create(user=eu_analyst, name="x").token).get(
        COUNTS.format("main-and-5th")
    )
    assert answer.status_code == 503
    assert answer.json()["error"] == "audit_unavailable"
    assert "totals" not in answer.json()


def test_it_records_the_last_use_at_most_once_a_minute(eu_analyst):
    issued = api_token_create(user=eu_analyst, name="x")
    api = bearer(issued.token)
    region_codes(api)
    first = ApiToken.objects.get(pk=issued.api_token.pk).last_used_at
    assert first is not None
    region_codes(api)
    assert ApiToken.objects.get(pk=issued.api_token.pk).last_used_at == first
    a_while_ago = timezone.now() - tokens.LAST_USED_PRECISION
    ApiToken.objects.filter(pk=issued.api_token.pk).update(last_used_at=a_while_ago)
    region_codes(api)
    assert ApiToken.objects.get(pk=issued.api_token.pk).last_used_at > a_while_ago


def test_the_schema_offers_bearer_tokens(eu_analyst):
    api = APIClient()
    api.force_login(eu_analyst)
    schema = api.get("/api/schema/", {"format": "json"}).json()
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["bearerAuth"]["description"],
    }


@override_settings(JUNCTION_API_BAD_TOKENS_ADDRESS="3/minute")
def test_it_answers_429_to_an_address_past_its_refused_tokens(eu_analyst):
    good = api_token_create(user=eu_analyst, name="x").token
    answers = [
        bearer("jct_guessing_" + str(n)).get("/api/v1/regions", REMOTE_ADDR="203.0.113.9")
        for n in range(4)
    ]
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert 0 < int(answers[-1]["Retry-After"]) <= 60
    # Even a good token waits at that address; elsewhere it is served, and never counted.
    assert bearer(good).get("/api/v1/regions", REMOTE_ADDR="203.0.113.9").status_code == 429
    assert [bearer(good).get("/api/v1/regions").status_code for _ in range(4)] == [200] * 4
