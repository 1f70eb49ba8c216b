"""manage.py fleet_key_rotate --region CODE --role root|targets|snapshot|timestamp [--json]:
replace a role's key through a new root version (run where the offline keys are kept)."""

from __future__ import annotations

from junction.fleet.commands import FleetCommand
from junction.fleet.models import Role
from junction.fleet.repository import key_rotate


class Command(FleetCommand):
    help = "Replace a role's signing key: a new root version trusts the new key, not the old."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--region", required=True)
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])

    def handle(self, *args, **options) -> None:
        result = self.run(key_rotate, region=options["region"], role=options["role"])
        self.emit(
            options,
            result,
            f"{result['region']}: new {result['role']} key, trusted by "
            f"root v{result['root_version']}",
        )
