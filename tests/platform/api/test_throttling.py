"""API calls are limited per user and per API token: past the rate, 429 with Retry-After (which
the edge uplink and any integrator's client can honour), other users and tokens unaffected."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from junction.accounts.services import api_token_create
from junction.accounts.throttling import StaffRateThrottle, TokenRateThrottle


@pytest.fixture
def three_a_minute(monkeypatch):
    monkeypatch.setattr(StaffRateThrottle, "THROTTLE_RATES", {"user": "3/minute"})
    monkeypatch.setattr(StaffRateThrottle, "timer", staticmethod(lambda: 1_800_000_000.0))


def test_it_answers_429_with_retry_after_past_a_users_rate(three_a_minute, eu_analyst, us_analyst):
    api = APIClient()
    api.force_authenticate(eu_analyst)
    answers = [api.get("/api/v1/regions") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    # The clock stands still (three_a_minute): the oldest call leaves the window in 60 s.
    assert answers[-1]["Retry-After"] == "60"
    api.force_authenticate(us_analyst)
    assert api.get("/api/v1/regions").status_code == 200


@pytest.fixture
def two_a_minute_per_token(monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "2/minute"})


def test_it_limits_each_token_within_its_users_limit(two_a_minute_per_token, eu_analyst):
    first, second = (
        api_token_create(user=eu_analyst, name=name).token for name in ("first", "second")
    )
    calls = [(token, APIClient()) for token in (first, first, first, second)]
    answers = []
    for token, api in calls:
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        answers.append(api.get("/api/v1/regions"))
    assert [a.status_code for a in answers] == [200, 200, 429, 200]
    assert 0 < int(answers[2]["Retry-After"]) <= 60


def test_a_users_limit_covers_all_their_tokens(three_a_minute, eu_analyst):
    answers = []
    for name in ("a", "b", "c", "d"):
        api = APIClient()
        token = api_token_create(user=eu_analyst, name=name).token
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        answers.append(api.get("/api/v1/regions").status_code)
    assert answers == [200, 200, 200, 429]
