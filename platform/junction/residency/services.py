"""Writes of the residency app: audit records, transfer checks and transfer rule changes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from junction.residency.errors import TransferRefused
from junction.residency.models import AuditEvent, TransferRule
from junction.residency.planes import served_alias

# Identical refusals within one such window share one audit row (audit_repeated).
REPEAT_WINDOW = timedelta(hours=1)


def audit_record(
    *,
    region: str,
    actor: str,
    action: str,
    destination_region: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        region=region,
        actor=actor,
        action=action,
        destination_region=destination_region,
        detail=detail or {},
    )
    event.save(using=served_alias(region))
    return event


def audit_repeated(
    *,
    region: str,
    actor: str,
    action: str,
    destination_region: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Record an event that anyone can repeat at will, without letting repeats flood the log.

    A refusal releases nothing, and a script asking 10,000 times would otherwise bury the
    region's log (and its disk) under identical rows. What an auditor needs from refusals is
    who was refused what, from which region, when it began and ended, and how often: so the
    identical refusals (same actor, action, destination and detail) of one REPEAT_WINDOW share
    one row, `at` the first, `last_at` the latest and `repeats` the count. The hour keeps the
    timing of a probing campaign visible; a flood costs one row per actor and kind per hour.
    Anything that released data is recorded one row per event (audit_record), never merged.
    """
    now = timezone.now()
    alias = served_alias(region)
    window = datetime.fromtimestamp(
        now.timestamp() // REPEAT_WINDOW.total_seconds() * REPEAT_WINDOW.total_seconds(), UTC
    )
    detail = detail or {}
    key = hashlib.sha256(
        json.dumps(
            [action, actor, destination_region, detail, window.isoformat()], sort_keys=True
        ).encode()
    ).hexdigest()
    events = AuditEvent.objects.in_region(region).filter(repeat_key=key)
    with transaction.atomic(using=alias):
        if events.update(repeats=F("repeats") + 1, last_at=now):
            return
        try:
            # The unique key makes two first refusals arriving together one row, not two.
            with transaction.atomic(using=alias):
                AuditEvent(
                    region=region,
                    actor=actor,
                    action=action,
                    repeat_key=key,
                    destination_region=destination_region,
                    detail=detail,
                    last_at=now,
                ).save(using=alias)
        except IntegrityError:
            events.update(repeats=F("repeats") + 1, last_at=now)


def transfer_authorise(*, source: str, destination: str, level: str, actor: str) -> TransferRule:
    """The one gate for cross-region data: a matching active rule, or TransferRefused.

    Both outcomes are written to the source region's audit log.
    """
    if source == destination:
        raise TransferRefused("source and destination are the same region; nothing crosses")
    rule = TransferRule.objects.filter(
        source__code=source, destination__code=destination, level=level, active=True
    ).first()
    if rule is None:
        audit_repeated(
            region=source,
            actor=actor,
            action="refused",
            destination_region=destination,
            detail={"level": level, "reason": "no transfer rule"},
        )
        raise TransferRefused(
            f"no active transfer rule lets {level} data go from {source} to {destination}"
        )
    audit_record(
        region=source,
        actor=actor,
        action="transfer",
        destination_region=destination,
        detail={"level": level, "rule": rule.pk, "min_count": rule.min_count},
    )
    return rule


def transfer_rule_save(rule: TransferRule, *, actor: str) -> TransferRule:
    """Create or change a transfer rule; the change is written to the source region's audit log.

    A rule decides what leaves a region, so the region's own log must show who opened, widened
    or closed it. The audit entry is written before the rule's commit: if it cannot be written
    (the node does not serve the source region), the change does not happen either.
    """
    created = rule.pk is None
    with transaction.atomic(using="default"):
        rule.full_clean()
        rule.save()
        audit_record(
            region=rule.source.code,
            actor=actor,
            action="rule_created" if created else "rule_changed",
            destination_region=rule.destination.code,
            detail=_rule_detail(rule),
        )
    return rule


def transfer_rule_delete(rule: TransferRule, *, actor: str) -> None:
    """Delete a transfer rule, audited in the source region like any change."""
    with transaction.atomic(using="default"):
        detail = _rule_detail(rule)
        rule.delete()
        audit_record(
            region=rule.source.code,
            actor=actor,
            action="rule_deleted",
            destination_region=rule.destination.code,
            detail=detail,
        )


def _rule_detail(rule: TransferRule) -> dict[str, Any]:
    return {
        "rule": rule.pk,
        "level": rule.level,
        "min_count": rule.min_count,
        "active": rule.active,
    }
