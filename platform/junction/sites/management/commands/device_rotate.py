"""manage.py device_rotate DEVICE_ID [--finish]: rotate a device's secret in two steps.

Step one issues a new secret while the old one keeps working, so the device can be
reconfigured without losing batches; `--finish` then retires the old secret.
"""

from __future__ import annotations

from junction.commands import JunctionCommand
from junction.sites import services
from junction.sites.management.base import SECRET_WARNING, device_payload


class Command(JunctionCommand):
    help = "Issue a new secret (old and new both valid), or --finish to retire the old one."

    def add_arguments(self, parser) -> None:
        parser.add_argument("device_id")
        parser.add_argument(
            "--finish",
            action="store_true",
            help="retire the previous secret once the device uses the new one",
        )

    def handle(self, *args, **options) -> None:
        if options["finish"]:
            device = self.run(services.device_rotation_finish, device_id=options["device_id"])
            self.emit(
                options,
                device_payload(device),
                f"device {device.device_id}: rotation finished, only the new secret is valid now",
            )
            return
        issued = self.run(services.device_rotate, device_id=options["device_id"])
        device = issued.device
        payload = {**device_payload(device), "secret": issued.secret, "warning": SECRET_WARNING}
        self.emit(
            options,
            payload,
            f"device {device.device_id}: new secret issued; the old one stays valid until "
            f"`manage.py device_rotate {device.device_id} --finish`\n"
            f"secret: {issued.secret}",
        )
        if not options["json"]:
            self.stderr.write(SECRET_WARNING)
