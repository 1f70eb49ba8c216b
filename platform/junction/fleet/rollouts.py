"""Rollouts: a release offered to named devices or a share of a region's fleet, canaries first,
halted by itself when too many devices roll it back; paused, resumed and aborted by operators.

Every change of a rollout is written to the region's audit log. The rollout is re-judged after
each check-in (`rollout_judge`), inside the check-in's transaction.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from junction.fleet.models import (
    OPEN_ROLLOUT_STATES,
    DeviceUpdate,
    Release,
    Rollout,
    RolloutState,
    UpdateState,
)
from junction.residency.planes import served_alias
from junction.residency.services import audit_record
from junction.sites.models import Device

DEFAULT_HALT_SHARE = 0.2
# A device that rolled the release back, or refused it (it failed verification there), will
# not run it: both count towards the halt, and neither is offered it again.
GAVE_UP = (UpdateState.ROLLED_BACK, UpdateState.REFUSED)


def _region_devices(region: str) -> list[str]:
    return list(
        Device.objects.filter(site__region__code=region, revoked_at__isnull=True)
        .order_by("device_id")
        .values_list("device_id", flat=True)
    )


def _chosen(
    region: str, release: str, devices: list[str] | None, percent: float | None
) -> list[str]:
    fleet = _region_devices(region)
    if devices is not None:
        unknown = sorted(set(devices) - set(fleet))
        if unknown:
            raise ValidationError(
                {"devices": f"not active devices of region {region}: {', '.join(unknown)}"}
            )
        return list(dict.fromkeys(devices))
    if percent is None or not 0 < percent <= 100:
        raise ValidationError({"percent": "give --devices, or --percent above 0 and at most 100"})
    if not fleet:
        raise ValidationError({"percent": f"region {region} has no active devices"})
    # A stable, release-specific shuffle: the same devices are not always the first to update.
    order = sorted(fleet, key=lambda d: hashlib.sha256(f"{release}/{d}".encode()).hexdigest())
    return order[: max(1, math.ceil(len(fleet) * percent / 100))]


def rollout_start(
    *,
    region: str,
    release: str,
    actor: str,
    devices: list[str] | None = None,
    percent: float | None = None,
    canaries: int = 1,
    halt_share: float = DEFAULT_HALT_SHARE,
) -> Rollout:
    if not 0 <= halt_share < 1:
        raise ValidationError({"halt_share": "must be at least 0 and below 1"})
    if canaries < 1:
        raise ValidationError({"canaries": "at least one device goes first"})
    alias = served_alias(region)
    with transaction.atomic(using=alias):
        if not Release.objects.in_region(region).filter(name=release).exists():
            raise ValidationError({"release": f"no release {release!r} in region {region}"})
        open_one = Rollout.objects.in_region(region).filter(state__in=OPEN_ROLLOUT_STATES).first()
        if open_one is not None:
            raise ValidationError(
                f"rollout {open_one.pk} of {open_one.release!r} is still "
                f"{open_one.state} in {region}: abort it first"
            )
        chosen = _chosen(region, release, devices, percent)
        rollout = Rollout(
            region=region,
            release=release,
            devices=chosen,
            canaries=chosen[:canaries],
            halt_share=halt_share,
            started_by=actor,
        )
        rollout.save(using=alias)
        for device_id in chosen:
            update = _update_of(region, device_id)
            update.previous_release = update.installed_release
            update.rollout_id = rollout.pk
            # A rollback or refusal was of an earlier release: this one starts afresh.
            if update.state in GAVE_UP:
                update.state, update.reason = UpdateState.CURRENT, ""
            update.save(using=alias)
        _offer(rollout, rollout.canaries)
        _audit(
            rollout,
            actor,
            "rollout_started",
            devices=chosen,
            canaries=rollout.canaries,
            percent=percent,
            halt_share=halt_share,
        )
    return rollout


def _update_of(region: str, device_id: str) -> DeviceUpdate:
    return DeviceUpdate.objects.in_region(region).filter(
        device_id=device_id
    ).first() or DeviceUpdate(region=region, device_id=device_id)


def _offer(rollout: Rollout, device_ids: list[str]) -> None:
    """Set the release as these devices' desired one (not for those that rolled it back)."""
    (
        DeviceUpdate.objects.in_region(rollout.region)
        .filter(device_id__in=device_ids, rollout_id=rollout.pk)
        .exclude(state__in=GAVE_UP)
        .exclude(installed_release=rollout.release, state=UpdateState.ACTIVE)
        .update(desired_release=rollout.release, state=UpdateState.PENDING, reason="")
    )


def _audit(rollout: Rollout, actor: str, action: str, **detail: Any) -> None:
    audit_record(
        region=rollout.region,
        actor=actor,
        action=action,
        detail={"rollout": rollout.pk, "release": rollout.release, **detail},
    )


def _rollout_get(region: str, rollout_id: int) -> Rollout:
    rollout = Rollout.objects.in_region(region).select_for_update().filter(pk=rollout_id).first()
    if rollout is None:
        raise ValidationError({"rollout": f"no rollout {rollout_id} in region {region}"})
    return rollout


def _transition(
    *,
    region: str,
    rollout_id: int,
    actor: str,
    allowed: tuple[str, ...],
    to: str,
    action: str,
    reason: str = "",
) -> Rollout:
    alias = served_alias(region)
    with transaction.atomic(using=alias):
        rollout = _rollout_get(region, rollout_id)
        if rollout.state not in allowed:
            raise ValidationError(
                {
                    "rollout": f"rollout {rollout_id} is {rollout.state}; "
                    f"only a {' or '.join(allowed)} one can be {to}"
                }
            )
        rollout.state = to
        rollout.reason = reason or rollout.reason
        rollout.save(using=alias, update_fields=["state", "reason", "updated_at"])
        _audit(rollout, actor, action, reason=reason)
        return rollout


def rollout_pause(*, region: str, rollout_id: int, actor: str, reason: str = "") -> Rollout:
    """No device is offered the release while paused; those that have it keep it."""
    return _transition(
        region=region,
        rollout_id=rollout_id,
        actor=actor,
        allowed=(RolloutState.RUNNING,),
        to=RolloutState.PAUSED,
        action="rollout_paused",
        reason=reason,
    )


def rollout_resume(*, region: str, rollout_id: int, actor: str) -> Rollout:
    """Run again a paused or halted rollout: its current wave is offered the release again
    (except the devices that rolled it back)."""
    rollout = _transition(
        region=region,
        rollout_id=rollout_id,
        actor=actor,
        allowed=(RolloutState.PAUSED, RolloutState.HALTED),
        to=RolloutState.RUNNING,
        action="rollout_resumed",
    )
    with transaction.atomic(using=served_alias(region)):
        _offer(rollout, rollout.devices if rollout.canary_passed else rollout.canaries)
        rollout_judge(rollout)
    return rollout


def rollout_abort(*, region: str, rollout_id: int, actor: str, reason: str = "") -> Rollout:
    """Stop for good: every device of the rollout is sent back to the release it ran before."""
    rollout = _transition(
        region=region,
        rollout_id=rollout_id,
        actor=actor,
        allowed=OPEN_ROLLOUT_STATES,
        to=RolloutState.ABORTED,
        action="rollout_aborted",
        reason=reason,
    )
    _send_back(rollout, exclude_active=False)
    return rollout


def _send_back(rollout: Rollout, *, exclude_active: bool) -> None:
    updates = DeviceUpdate.objects.in_region(rollout.region).filter(
        rollout_id=rollout.pk, desired_release=rollout.release
    )
    if exclude_active:
        updates = updates.exclude(installed_release=rollout.release, state=UpdateState.ACTIVE)
    for update in updates:
        update.desired_release = update.previous_release
        update.save(using=served_alias(rollout.region), update_fields=["desired_release"])


def rollout_judge(rollout: Rollout) -> None:
    """After a check-in: halt on too many rollbacks, promote past the canaries, complete.

    The share counts the devices offered the release so far, so a canary that rolls back
    (or refuses the release) halts the rollout on its own.
    """
    if rollout.state != RolloutState.RUNNING:
        return
    updates = DeviceUpdate.objects.in_region(rollout.region).filter(rollout_id=rollout.pk)
    offered = updates.filter(
        device_id__in=(rollout.devices if rollout.canary_passed else rollout.canaries)
    )
    rolled_back = list(offered.filter(state__in=GAVE_UP).values_list("device_id", "reason"))
    share = len(rolled_back) / max(1, offered.count())
    alias = served_alias(rollout.region)
    if rolled_back and share > rollout.halt_share:
        rollout.state = RolloutState.HALTED
        rollout.reason = (
            f"{len(rolled_back)} of {offered.count()} devices rolled back "
            f"({share:.0%} > {rollout.halt_share:.0%}): "
            + "; ".join(f"{d}: {r}" for d, r in rolled_back)
        )
        rollout.save(using=alias, update_fields=["state", "reason", "updated_at"])
        # The devices still on their way stop: the release is suspect.
        _send_back(rollout, exclude_active=True)
        _audit(rollout, "fleet", "rollout_halted", reason=rollout.reason)
        return
    active = set(
        updates.filter(state=UpdateState.ACTIVE, installed_release=rollout.release).values_list(
            "device_id", flat=True
        )
    )
    if not rollout.canary_passed and set(rollout.canaries) <= active:
        rollout.canary_passed = True
        rollout.save(using=alias, update_fields=["canary_passed", "updated_at"])
        _offer(rollout, rollout.devices)
        _audit(rollout, "fleet", "rollout_promoted", canaries=rollout.canaries)
    if set(rollout.devices) <= active:
        rollout.state = RolloutState.COMPLETED
        rollout.save(using=alias, update_fields=["state", "updated_at"])
        _audit(rollout, "fleet", "rollout_completed", devices=rollout.devices)
