"""manage.py device_revoke DEVICE_ID: refuse every further batch from a device."""

from __future__ import annotations

from junction.commands import JunctionCommand
from junction.sites import services
from junction.sites.management.base import device_payload


class Command(JunctionCommand):
    help = "Revoke a device: its batches are refused from now on (403)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("device_id")

    def handle(self, *args, **options) -> None:
        device = self.run(services.device_revoke, device_id=options["device_id"])
        assert device.revoked_at is not None  # device_revoke sets it
        self.emit(
            options,
            device_payload(device),
            f"device {device.device_id} revoked at {device.revoked_at.isoformat()}",
        )
