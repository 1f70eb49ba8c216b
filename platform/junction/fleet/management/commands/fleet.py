"""manage.py fleet --region CODE [--json] (DESIGN.md section 10): per device its installed and
desired release, update state, last check-in and reason; then the region's rollouts."""

from __future__ import annotations

from junction.fleet.commands import FleetCommand, rollout_json
from junction.fleet.selectors import fleet_list, rollout_list


def _fleet(region: str) -> dict:
    return {
        "region": region,
        "devices": [d.as_json() for d in fleet_list(region)],
        "rollouts": [rollout_json(r) for r in rollout_list(region)],
    }


class Command(FleetCommand):
    help = "List a region's devices with their releases and update states, and its rollouts."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--region", required=True)

    def handle(self, *args, **options) -> None:
        fleet = self.run(_fleet, region=options["region"])
        lines = [
            f"{d['device_id']:<30} {d['installed_release'] or '-':<20} "
            f"{d['desired_release'] or '-':<20} {d['state']:<12} "
            f"{d['last_checkin_at'] or 'never':<32} {d['reason'] or ''}"
            for d in fleet["devices"]
        ] or ["no devices"]
        lines += [
            f"rollout {r['id']} of {r['release']}: {r['phase']}, {len(r['devices'])} devices"
            + (f" ({r['reason']})" if r["reason"] else "")
            for r in fleet["rollouts"]
        ]
        self.emit(options, fleet, "\n".join(lines))
