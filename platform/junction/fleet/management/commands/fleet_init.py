"""manage.py fleet_init [--region CODE] [--root-keys N --root-threshold T] [--json]: create a
region's TUF repository and its signing keys (run where the offline keys are to be kept)."""

from __future__ import annotations

from django.conf import settings

from junction.fleet.commands import FleetCommand
from junction.fleet.repository import repository_init


class Command(FleetCommand):
    help = "Create each served region's fleet (TUF) repository: keys and version 1 of each role."
    field_options = {"root_threshold": "--root-threshold"}

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--region",
            action="append",
            help="this region only (repeatable; default: every served region)",
        )
        parser.add_argument("--root-keys", type=int, default=1, help="root keys to create")
        parser.add_argument(
            "--root-threshold", type=int, default=1, help="root signatures a new root version needs"
        )

    def handle(self, *args, **options) -> None:
        results = [
            self.run(
                repository_init,
                region=region,
                root_keys=options["root_keys"],
                root_threshold=options["root_threshold"],
            )
            for region in options["region"] or settings.SERVED_REGIONS
        ]
        self.emit(
            options,
            {"repositories": results},
            "\n".join(f"{r['region']}: fleet repository created (root v1)" for r in results),
        )
