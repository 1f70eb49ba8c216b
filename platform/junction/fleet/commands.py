"""What the fleet's operator commands share: a rollout as JSON, and the pause/resume/abort
shape (a rollout id and its region, audited as the operator who ran it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError

from junction.commands import JunctionCommand, T, cli_actor
from junction.fleet.models import Rollout
from junction.fleet.selectors import rollout_phase
from junction.residency.errors import MisdirectedRegion


def rollout_json(rollout: Rollout) -> dict[str, Any]:
    return {
        "id": rollout.pk,
        "release": rollout.release,
        "region": rollout.region,
        "state": rollout.state,
        "phase": rollout_phase(rollout),
        "devices": rollout.devices,
        "canaries": rollout.canaries,
        "canary_passed": rollout.canary_passed,
        "halt_share": rollout.halt_share,
        "reason": rollout.reason or None,
        "started_by": rollout.started_by,
        "created_at": rollout.created_at.isoformat() if rollout.created_at else None,
        "updated_at": rollout.updated_at.isoformat() if rollout.updated_at else None,
    }


class FleetCommand(JunctionCommand):
    def run(self, service: Callable[..., T], **kwargs: Any) -> T:
        try:
            return super().run(service, **kwargs)
        except MisdirectedRegion as exc:
            raise CommandError(f"--region: {exc}") from exc


class RolloutCommand(FleetCommand):
    service: Callable[..., Rollout]
    takes_reason = False
    field_options = {"rollout": "ID"}

    def add_arguments(self, parser) -> None:
        parser.add_argument("id", type=int, help="the rollout (rollout_start prints it)")
        parser.add_argument("--region", required=True)
        if self.takes_reason:
            parser.add_argument("--reason", default="", help="written to the audit log")

    def handle(self, *args, **options) -> None:
        extra = {"reason": options["reason"]} if self.takes_reason else {}
        rollout = self.run(
            type(self).service,
            region=options["region"],
            rollout_id=options["id"],
            actor=cli_actor(),
            **extra,
        )
        self.emit(
            options,
            rollout_json(rollout),
            f"rollout {rollout.pk} of {rollout.release} is {rollout.state}",
        )
