"""manage.py rollout_start NAME --region CODE (--devices ID,ID | --percent P) [--canaries N]
[--halt-share S] --json (DESIGN.md section 10)."""

from __future__ import annotations

from junction.commands import cli_actor
from junction.fleet.commands import FleetCommand, rollout_json
from junction.fleet.rollouts import DEFAULT_HALT_SHARE, rollout_start


class Command(FleetCommand):
    help = "Offer a release to devices of a region, canaries first; halts on too many rollbacks."
    field_options = {
        "devices": "--devices",
        "percent": "--percent",
        "release": "NAME",
        "canaries": "--canaries",
        "halt_share": "--halt-share",
    }

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="the release")
        parser.add_argument("--region", required=True)
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--devices", help="device ids, comma-separated")
        which.add_argument("--percent", type=float, help="this share of the region's devices")
        parser.add_argument(
            "--canaries",
            type=int,
            default=1,
            help="devices that must be active before the others (default 1)",
        )
        parser.add_argument(
            "--halt-share",
            type=float,
            default=DEFAULT_HALT_SHARE,
            help="halt when more than this share of the devices offered the "
            f"release roll it back (default {DEFAULT_HALT_SHARE})",
        )

    def handle(self, *args, **options) -> None:
        devices = (
            [d.strip() for d in options["devices"].split(",") if d.strip()]
            if options["devices"]
            else None
        )
        rollout = self.run(
            rollout_start,
            region=options["region"],
            release=options["name"],
            actor=cli_actor(),
            devices=devices,
            percent=options["percent"],
            canaries=options["canaries"],
            halt_share=options["halt_share"],
        )
        self.emit(
            options,
            rollout_json(rollout),
            f"rollout {rollout.pk} of {rollout.release} in {rollout.region}: "
            f"{len(rollout.devices)} devices, canaries {', '.join(rollout.canaries)}",
        )
