"""Anomalies above a subscription's severity reach its webhook (signed) and its mailboxes;
deliveries are retried and recorded, and a dead webhook never stops detection."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from junction.analytics import alerts
from junction.analytics.models import AlertDelivery, AlertSubscription, Anomaly

EU = "eu-west"
START = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
SECRET = "whsec-eu-ops"


class FakeWebhook:
    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, url, data, headers, timeout):
        self.calls.append((url, data, headers))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return type("Response", (), {"status_code": answer})()


@pytest.fixture
def subscription(eu_west):
    return AlertSubscription.objects.create(
        region=eu_west,
        name="EU operations",
        min_severity=5.0,
        webhook_url="https://hooks.city.example/junction",
        webhook_secret=SECRET,
        emails=["traffic-ops@city.example"],
    )


def anomaly(severity: float, kind: str = "drop") -> Anomaly:
    row = Anomaly(
        region=EU,
        site_id=1,
        counter="north-stopline",
        kind=kind,
        start=START,
        end=START + timedelta(hours=1),
        severity=severity,
        expected=400,
        observed=80,
    )
    row.save()
    return row


def dispatch(django_capture_on_commit_callbacks, row: Anomaly):
    with django_capture_on_commit_callbacks(using="region_eu-west", execute=True):
        return alerts.alerts_dispatch(region=EU, anomaly_id=row.pk)


def test_it_sends_a_signed_webhook_and_an_email(
    subscription, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    hook = FakeWebhook([200])
    monkeypatch.setattr(alerts.requests, "post", hook)
    row = anomaly(severity=9.0)

    dispatch(django_capture_on_commit_callbacks, row)

    ((url, body, headers),) = hook.calls
    assert url == subscription.webhook_url
    expected = hmac.new(
        SECRET.encode(), f"{headers['X-Junction-Timestamp']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Junction-Signature"] == f"v1={expected}"
    payload = json.loads(body)
    assert (payload["schema"], payload["id"], payload["kind"]) == (
        "junction.anomaly/v1",
        row.pk,
        "drop",
    )
    assert [m.to for m in mailoutbox] == [["traffic-ops@city.example"]]
    deliveries = AlertDelivery.objects.in_region(EU).order_by("channel")
    assert [(d.channel, d.state, d.attempts) for d in deliveries] == [
        ("email", "sent", 1),
        ("webhook", "sent", 1),
    ]


def test_it_does_not_alert_below_the_subscriptions_severity(
    subscription, monkeypatch, django_capture_on_commit_callbacks
):
    hook = FakeWebhook([200])
    monkeypatch.setattr(alerts.requests, "post", hook)
    assert dispatch(django_capture_on_commit_callbacks, anomaly(severity=4.9)) == []
    assert hook.calls == []


def test_it_alerts_once_per_anomaly_and_channel(
    subscription, monkeypatch, django_capture_on_commit_callbacks
):
    hook = FakeWebhook([200])
    monkeypatch.setattr(alerts.requests, "post", hook)
    row = anomaly(severity=9.0)
    dispatch(django_capture_on_commit_callbacks, row)
    assert dispatch(django_capture_on_commit_callbacks, row) == []
    assert len(hook.calls) == 1


def test_it_retries_a_failing_webhook_then_records_the_failure(
    subscription, monkeypatch, django_capture_on_commit_callbacks
):
    hook = FakeWebhook([requests.ConnectionError("connection refused")])
    monkeypatch.setattr(alerts.requests, "post", hook)

    dispatch(django_capture_on_commit_callbacks, anomaly(severity=9.0))

    webhook = AlertDelivery.objects.in_region(EU).get(channel="webhook")
    assert (webhook.state, webhook.attempts) == ("failed", alerts.MAX_ATTEMPTS)
    assert "connection refused" in webhook.last_error
    assert len(hook.calls) == alerts.MAX_ATTEMPTS
    assert AlertDelivery.objects.in_region(EU).get(channel="email").state == "sent"


def test_it_recovers_when_the_webhook_comes_back(
    subscription, monkeypatch, django_capture_on_commit_callbacks
):
    hook = FakeWebhook([503, 503, 200])
    monkeypatch.setattr(alerts.requests, "post", hook)
    dispatch(django_capture_on_commit_callbacks, anomaly(severity=9.0))
    webhook = AlertDelivery.objects.in_region(EU).get(channel="webhook")
    assert (webhook.state, webhook.attempts) == ("sent", 3)


def test_it_does_not_retry_a_webhook_that_refuses_the_alert(
    subscription, monkeypatch, django_capture_on_commit_callbacks
):
    hook = FakeWebhook([410])
    monkeypatch.setattr(alerts.requests, "post", hook)
    dispatch(django_capture_on_commit_callbacks, anomaly(severity=9.0))
    webhook = AlertDelivery.objects.in_region(EU).get(channel="webhook")
    assert (webhook.state, webhook.attempts, len(hook.calls)) == ("failed", 1, 1)


def test_it_keeps_detecting_while_the_webhook_is_down(
    subscription, eu_site, monkeypatch, django_capture_on_commit_callbacks
):
    import numpy as np

    from junction.analytics import anomalies
    from tests.platform.analytics.factories import store_quarter_series
    from tests.platform.analytics.traffic import generate, inject_outage, window

    monkeypatch.setattr(alerts.requests, "post", FakeWebhook([requests.Timeout("read timed out")]))
    monday = datetime(2026, 10, 26, tzinfo=UTC)
    traffic = generate(np.random.default_rng(6), weeks=5)
    inject_outage(traffic, window(4, 2, 10.0), 8)
    store_quarter_series(
        region=EU,
        site_id=eu_site.pk,
        start=monday,
        volumes=traffic.volume,
        coverage=traffic.coverage,
    )
    with django_capture_on_commit_callbacks(using="region_eu-west", execute=True):
        found = anomalies.anomalies_detect_region(
            region=EU, since=monday + timedelta(weeks=4), until=monday + timedelta(weeks=5)
        )
    assert [a.kind for a in found.recorded] == ["outage"]
    assert AlertDelivery.objects.in_region(EU).get(channel="webhook").state == "failed"
