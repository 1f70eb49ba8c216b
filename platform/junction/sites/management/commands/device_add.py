"""manage.py device_add DEVICE_ID --site SLUG: register a device and show its secret once."""

from __future__ import annotations

from junction.commands import JunctionCommand
from junction.sites import services
from junction.sites.management.base import SECRET_WARNING, device_payload


class Command(JunctionCommand):
    help = "Register an edge device for a site; prints its signing secret once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("device_id")
        parser.add_argument("--site", required=True, help="site slug")

    def handle(self, *args, **options) -> None:
        issued = self.run(services.device_add, device_id=options["device_id"], site=options["site"])
        device = issued.device
        payload = {**device_payload(device), "secret": issued.secret, "warning": SECRET_WARNING}
        self.emit(
            options,
            payload,
            f"device {device.device_id} registered for site {device.site.slug} "
            f"(region {device.site.region.code})\nsecret: {issued.secret}",
        )
        if not options["json"]:
            self.stderr.write(SECRET_WARNING)
