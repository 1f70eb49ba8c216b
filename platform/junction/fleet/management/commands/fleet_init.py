"""manage.py fleet_init [--region CODE] [--ROLE-keys N --ROLE-threshold T ...] [--json]: create a
region's TUF repository and its signing keys (run where the offline keys are to be kept)."""

from __future__ import annotations

from django.conf import settings

from junction.fleet.commands import FleetCommand
from junction.fleet.models import Role
from junction.fleet.repository import repository_init


class Command(FleetCommand):
    help = "Create each served region's fleet (TUF) repository: keys and version 1 of each role."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--region",
            action="append",
            help="this region only (repeatable; default: every served region)",
        )
        for role in Role:
            parser.add_argument(
                f"--{role.value}-keys", type=int, default=1, help=f"{role.value} keys to create"
            )
            parser.add_argument(
                f"--{role.value}-threshold",
                type=int,
                default=1,
                help=f"{role.value} signatures a device requires on each {role.value} version",
            )

    def handle(self, *args, **options) -> None:
        results = [
            self.run(
                repository_init,
                region=region,
                keys={role: options[f"{role.value}_keys"] for role in Role},
                thresholds={role: options[f"{role.value}_threshold"] for role in Role},
            )
            for region in options["region"] or settings.SERVED_REGIONS
        ]
        self.emit(
            options,
            {"repositories": results},
            "\n".join(f"{r['region']}: fleet repository created (root v1)" for r in results),
        )
