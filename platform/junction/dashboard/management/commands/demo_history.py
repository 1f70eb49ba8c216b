"""manage.py demo_history: six weeks of traffic for every demo device's site, through the
ingest service and the analytics (junction.dashboard.demo). Idempotent: a site that already
has its history is left alone."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone

from junction.commands import JunctionCommand
from junction.dashboard.demo import history_seed
from junction.sites.management.commands.demo_seed import DEMO_REGIONS
from junction.sites.models import Device


class Command(JunctionCommand):
    help = "Seed six weeks of demo traffic (weekdays, weekends, incidents) for the demo sites."

    def handle(self, *args, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError("demo_history refuses to run with JUNCTION_PRODUCTION=1")
        now = timezone.now()
        stored = {}
        for demo in DEMO_REGIONS:
            device = Device.objects.select_related("site__region").filter(
                device_id=demo["device"]).first()
            if device is None:
                raise CommandError(f"no demo device {demo['device']}: run demo_seed first")
            stored[device.site.slug] = history_seed(device, now)
        self.emit(options, {"batches": stored}, "\n".join(
            f"site {slug}: {n} daily batches stored" if n else f"site {slug}: history kept"
            for slug, n in stored.items()))
