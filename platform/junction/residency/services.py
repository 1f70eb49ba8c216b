"""Writes of the residency app: audit records and transfer checks."""

from __future__ import annotations

from typing import Any

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
