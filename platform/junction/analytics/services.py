"""Writes of the analytics app. Rollup, detection, alert and retention services live in their
own modules (rollups, detection, alerts, retention); anomaly triage lives here."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from junction.analytics.models import Anomaly
from junction.residency.planes import served_alias


def anomaly_acknowledge(*, region: str, anomaly_id: int, user: str) -> Anomaly:
    """open -> acknowledged; claimed with filter().update() so two clicks cannot both win."""
    with transaction.atomic(using=served_alias(region)):
        changed = Anomaly.objects.in_region(region).filter(
            pk=anomaly_id, state=Anomaly.State.OPEN
        ).update(state=Anomaly.State.ACKNOWLEDGED, acknowledged_by=user,
                 acknowledged_at=timezone.now())
        anomaly = Anomaly.objects.in_region(region).get(pk=anomaly_id)
    if changed != 1:
        raise ValidationError({"state": f"anomaly {anomaly_id} is {anomaly.state}, not open"})
    return anomaly


def anomaly_resolve(*, region: str, anomaly_id: int, user: str) -> Anomaly:
    """open or acknowledged -> resolved."""
    with transaction.atomic(using=served_alias(region)):
        changed = Anomaly.objects.in_region(region).filter(
            pk=anomaly_id, state__in=[Anomaly.State.OPEN, Anomaly.State.ACKNOWLEDGED]
        ).update(state=Anomaly.State.RESOLVED, resolved_by=user, resolved_at=timezone.now())
        anomaly = Anomaly.objects.in_region(region).get(pk=anomaly_id)
    if changed != 1:
        raise ValidationError({"state": f"anomaly {anomaly_id} is already resolved"})
    return anomaly
