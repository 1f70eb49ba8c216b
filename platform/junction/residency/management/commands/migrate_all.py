"""Migrate the control database and every region database this node serves."""

from __future__ import annotations

from django.conf import settings
from django.core.management import BaseCommand, call_command

from junction.residency.planes import region_alias


class Command(BaseCommand):
    help = "Migrate the control plane (default) and each configured region database."

    def handle(self, *args, **options) -> None:
        verbosity = options["verbosity"]
        aliases = ["default", *(region_alias(code) for code in settings.SERVED_REGIONS)]
        for alias in aliases:
            self.stdout.write(f"migrating {alias}")
            call_command("migrate", database=alias, interactive=False, verbosity=verbosity)
        call_command("createcachetable", database="default", verbosity=verbosity)
