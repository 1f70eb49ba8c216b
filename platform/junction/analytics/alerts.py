"""Alert services: which subscriptions hear about an anomaly, and sending one delivery.

Deliveries are their own tasks, enqueued after commit: a slow or failing webhook delays only
its own retries, never the rollups or the detection that found the anomaly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from junction.analytics.models import AlertDelivery, AlertSubscription, Anomaly
from junction.residency.planes import served_alias

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 10
MAX_ATTEMPTS = 6
SCHEMA = "junction.anomaly/v1"


class DeliveryFailed(Exception):
    """A delivery attempt failed in a way worth retrying (network, 5xx, 429, SMTP)."""


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, the scheme devices sign with."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def anomaly_payload(anomaly: Anomaly) -> dict:
    return {
        "schema": SCHEMA,
        "id": anomaly.pk,
        "region": anomaly.region,
        "site_id": anomaly.site_id,
        "counter": anomaly.counter or None,
        "device": anomaly.device_id or None,
        "kind": anomaly.kind,
        "start": anomaly.start.isoformat(),
        "end": anomaly.end.isoformat(),
        "severity": anomaly.severity,
        "expected": anomaly.expected,
        "observed": anomaly.observed,
        "state": anomaly.state,
    }


def _subscribed(subscription: AlertSubscription, anomaly: Anomaly) -> bool:
    return anomaly.severity >= subscription.min_severity and (
        not subscription.kinds or anomaly.kind in subscription.kinds
    )


def alerts_dispatch(*, region: str, anomaly_id: int) -> list[AlertDelivery]:
    """Create the deliveries an anomaly is owed (once per subscription and channel), and
    enqueue them after commit."""
    from junction.analytics.tasks import deliver_alert

    anomaly = Anomaly.objects.in_region(region).get(pk=anomaly_id)
    owed = []
    for subscription in AlertSubscription.objects.filter(region__code=region, active=True):
        if not _subscribed(subscription, anomaly):
            continue
        if subscription.webhook_url:
            owed.append((subscription.pk, AlertDelivery.Channel.WEBHOOK, subscription.webhook_url))
        if subscription.emails:
            owed.append(
                (subscription.pk, AlertDelivery.Channel.EMAIL, ", ".join(subscription.emails))
            )
    alias = served_alias(region)
    created = []
    with transaction.atomic(using=alias):
        for subscription_id, channel, target in owed:
            delivery, new = AlertDelivery.objects.in_region(region).get_or_create(
                anomaly=anomaly,
                subscription_id=subscription_id,
                channel=channel,
                defaults={"region": region, "target": target},
            )
            if new:
                created.append(delivery)
        for delivery in created:
            deliver_alert.delay_on_commit(region=region, delivery_id=delivery.pk)
    return created


def alert_delivery_send(*, region: str, delivery_id: int) -> str:
    """One attempt; raises DeliveryFailed for a retry while attempts remain."""
    deliveries = AlertDelivery.objects.in_region(region)
    delivery = deliveries.select_related("anomaly").get(pk=delivery_id)
    if delivery.state != AlertDelivery.State.PENDING:
        return delivery.state  # already sent or given up: a redelivered message sends nothing
    subscription = AlertSubscription.objects.filter(pk=delivery.subscription_id).first()
    if subscription is None or not subscription.active:
        return _finish(delivery, AlertDelivery.State.FAILED, "subscription removed or inactive")
    deliveries.filter(pk=delivery.pk).update(attempts=F("attempts") + 1)
    delivery.refresh_from_db(fields=["attempts"])
    try:
        if delivery.channel == AlertDelivery.Channel.WEBHOOK:
            _send_webhook(subscription, delivery)
        else:
            _send_email(subscription, delivery)
    except DeliveryFailed as exc:
        deliveries.filter(pk=delivery.pk).update(last_error=str(exc)[:2000])
        if delivery.attempts >= MAX_ATTEMPTS:
            log.warning(
                "alert delivery %s failed for good after %s attempts: %s",
                delivery.pk,
                delivery.attempts,
                exc,
            )
            return _finish(delivery, AlertDelivery.State.FAILED, str(exc))
        log.info("alert delivery %s attempt %s failed: %s", delivery.pk, delivery.attempts, exc)
        raise
    except PermanentFailure as exc:
        return _finish(delivery, AlertDelivery.State.FAILED, str(exc))
    return _finish(delivery, AlertDelivery.State.SENT, "")


class PermanentFailure(Exception):
    """The receiver refused the alert (4xx other than 429): retrying would not help."""


def _finish(delivery: AlertDelivery, state: str, error: str) -> str:
    AlertDelivery.objects.in_region(delivery.region).filter(pk=delivery.pk).update(
        state=state,
        last_error=error[:2000],
        sent_at=timezone.now() if state == AlertDelivery.State.SENT else None,
    )
    return state


def _send_webhook(subscription: AlertSubscription, delivery: AlertDelivery) -> None:
    body = json.dumps(anomaly_payload(delivery.anomaly), sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Junction-Timestamp": str(timestamp),
        "X-Junction-Signature": webhook_signature(subscription.webhook_secret, timestamp, body),
        # Receivers drop repeats by this key: a retry after a lost answer is the same alert.
        "Idempotency-Key": f"anomaly-{delivery.anomaly_id}-delivery-{delivery.pk}",
    }
    try:
        response = requests.post(
            delivery.target, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS
        )
    except requests.RequestException as exc:
        raise DeliveryFailed(f"webhook unreachable: {exc}") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise DeliveryFailed(f"webhook answered {response.status_code}")
    if response.status_code >= 400:
        raise PermanentFailure(f"webhook refused the alert with {response.status_code}")


def _send_email(subscription: AlertSubscription, delivery: AlertDelivery) -> None:
    anomaly = delivery.anomaly
    subject = (
        f"[Junction {anomaly.region}] {anomaly.get_kind_display()} at site "
        f"{anomaly.site_id} {anomaly.counter or anomaly.device_id}".strip()
    )
    body = json.dumps(anomaly_payload(anomaly), indent=2, sort_keys=True)
    try:
        send_mail(subject, body, getattr(settings, "DEFAULT_FROM_EMAIL", None), subscription.emails)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"mail not accepted: {exc}") from exc
