"""manage.py fleet --region CODE [--json] (DESIGN.md section 10): per device its installed and
desired release, update state, last check-in and reason."""

from __future__ import annotations

from junction.fleet.commands import FleetCommand
from junction.fleet.selectors import fleet_list


class Command(FleetCommand):
    help = "List a region's devices with their releases and update states."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--region", required=True)

    def handle(self, *args, **options) -> None:
        devices = [d.as_json() for d in self.run(fleet_list, region=options["region"])]
        lines = [
            f"{d['device_id']:<30} {d['installed_release'] or '-':<20} "
            f"{d['desired_release'] or '-':<20} {d['state']:<12} "
            f"{d['last_checkin_at'] or 'never':<32} {d['reason'] or ''}"
            for d in devices
        ]
        self.emit(
            options,
            {"region": options["region"], "devices": devices},
            "\n".join(lines) or "no devices",
        )
