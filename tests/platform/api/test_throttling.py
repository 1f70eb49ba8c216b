"""API calls are limited per user: past the rate, 429 with Retry-After (which the edge uplink
and any integrator's client can honour), other users unaffected."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from junction.accounts.throttling import StaffRateThrottle


@pytest.fixture
def three_a_minute(monkeypatch):
    monkeypatch.setattr(StaffRateThrottle, "THROTTLE_RATES", {"user": "3/minute"})
    monkeypatch.setattr(StaffRateThrottle, "timer", staticmethod(lambda: 1_800_000_000.0))


def test_it_answers_429_with_retry_after_past_a_users_rate(three_a_minute, eu_analyst,
                                                            us_analyst):
    api = APIClient()
    api.force_authenticate(eu_analyst)
    answers = [api.get("/api/v1/regions") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    # The clock stands still (three_a_minute): the oldest call leaves the window in 60 s.
    assert answers[-1]["Retry-After"] == "60"
    api.force_authenticate(us_analyst)
    assert api.get("/api/v1/regions").status_code == 200
