"""The device check-in (`POST /api/v1/fleet/<region>/checkin`, signed like an ingest batch): the
device says what it runs and where its update stands, and learns the release it should run."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.db import transaction
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from junction.fleet.models import DeviceUpdate, Release, Rollout, UpdateState
from junction.fleet.rollouts import rollout_judge
from junction.ingest.errors import Invalid
from junction.residency.planes import served_alias

CHECKIN_SCHEMA = "junction.checkin/v1"
Name = Field(default="", max_length=100)


class CheckinIn(BaseModel):
    """A device's check-in, junction.checkin/v1. Every state but `current` names the release it
    is about (`release`); `rolled_back` and `refused` also say why (`reason`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal["junction.checkin/v1"] = Field(alias="schema")
    device_id: str = Field(min_length=1, max_length=100)
    # The release the device runs now ("" before its first fleet release).
    installed: str = Name
    state: Literal[
        "current", "downloading", "verifying", "activating", "active", "rolled_back", "refused"
    ]
    # The release the state is about (the one being installed, or rolled back).
    release: str = Name
    reason: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _reason_for_failures(self) -> CheckinIn:
        if self.state in ("rolled_back", "refused") and not self.reason:
            raise ValueError(f"state {self.state!r} needs a reason")
        if self.state != "current" and not self.release:
            raise ValueError(f"state {self.state!r} needs the release it is about")
        return self


def checkin_parse(body: bytes) -> CheckinIn:
    try:
        return CheckinIn.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise Invalid("invalid_checkin", field, first["msg"]) from exc


def checkin_record(*, region: str, report: CheckinIn, now: datetime) -> dict:
    """Store the report, re-judge the device's rollout, and answer with its desired release."""
    alias = served_alias(region)
    with transaction.atomic(using=alias):
        update = DeviceUpdate.objects.in_region(region).select_for_update().filter(
            device_id=report.device_id
        ).first() or DeviceUpdate(region=region, device_id=report.device_id)
        update.installed_release = report.installed
        update.last_checkin_at = now
        if (
            report.state == "current"
            and update.desired_release
            and update.desired_release != report.installed
        ):
            update.state = UpdateState.PENDING  # still to start on what it was offered
        else:
            update.state = report.state
        update.reason = report.reason
        if report.state in ("rolled_back", "refused") and report.release == update.desired_release:
            # It will not run that release: stop offering it, keep it on what it had.
            update.desired_release = update.previous_release
        update.save(using=alias)
        if update.rollout_id is not None:
            rollout = (
                Rollout.objects.in_region(region)
                .select_for_update()
                .filter(pk=update.rollout_id)
                .first()
            )
            if rollout is not None:
                rollout_judge(rollout)
        update.refresh_from_db(using=alias)
        return {
            "device_id": update.device_id,
            "state": update.state,
            "desired": desired_of(region, update.desired_release),
        }


def desired_of(region: str, name: str) -> dict | None:
    """The release a device should run, with the TUF target paths it fetches and verifies."""
    if not name:
        return None
    release = Release.objects.in_region(region).filter(name=name).first()
    if release is None:
        return None
    targets = {
        kind: path
        for kind, path in (("model", release.model_target), ("config", release.config_target))
        if path
    }
    return {"release": release.name, "targets": targets}
