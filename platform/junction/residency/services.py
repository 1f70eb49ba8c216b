"""Writes of the residency app: audit records, transfer checks and transfer rule changes."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from junction.residency.errors import TransferRefused
from junction.residency.models import AuditEvent, TransferRule
from junction.residency.planes import served_alias


def audit_record(*, region: str, actor: str, action: str, destination_region: str = "",
                 detail: dict[str, Any] | None = None) -> AuditEvent:
    event = AuditEvent(region=region, actor=actor, action=action,
                       destination_region=destination_region, detail=detail or {})
    event.save(using=served_alias(region))
    return event


def transfer_authorise(*, source: str, destination: str, level: str, actor: str) -> TransferRule:
    """The one gate for cross-region data: a matching active rule, or TransferRefused.

    Both outcomes are written to the source region's audit log.
    """
    if source == destination:
        raise TransferRefused("source and destination are the same region; nothing crosses")
    rule = TransferRule.objects.filter(source__code=source, destination__code=destination,
                                       level=level, active=True).first()
    if rule is None:
        audit_record(region=source, actor=actor, action="refused", destination_region=destination,
                     detail={"level": level, "reason": "no transfer rule"})
        raise TransferRefused(
            f"no active transfer rule lets {level} data go from {source} to {destination}"
        )
    audit_record(region=source, actor=actor, action="transfer", destination_region=destination,
                 detail={"level": level, "rule": rule.pk, "min_count": rule.min_count})
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
        audit_record(region=rule.source.code, actor=actor,
                     action="rule_created" if created else "rule_changed",
                     destination_region=rule.destination.code, detail=_rule_detail(rule))
    return rule


def transfer_rule_delete(rule: TransferRule, *, actor: str) -> None:
    """Delete a transfer rule, audited in the source region like any change."""
    with transaction.atomic(using="default"):
        detail = _rule_detail(rule)
        rule.delete()
        audit_record(region=rule.source.code, actor=actor, action="rule_deleted",
                     destination_region=rule.destination.code, detail=detail)


def _rule_detail(rule: TransferRule) -> dict[str, Any]:
    return {"rule": rule.pk, "level": rule.level, "min_count": rule.min_count,
            "active": rule.active}
