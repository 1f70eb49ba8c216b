"""List a region's anomalies, as a table or as JSON (each anomaly shaped exactly as the API's
`GET /api/v1/regions/{code}/anomalies/` gives it: site by slug, counter by name). It lives
in the api app because it prints the API's representation of an anomaly."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from junction.analytics import selectors
from junction.analytics.management.commands.analytics_run import parse_moment
from junction.analytics.models import Anomaly
from junction.api.serializers import anomalies_represent
from junction.residency.errors import MisdirectedRegion


class Command(BaseCommand):
    help = "List anomalies of one region (newest first)."

    def add_arguments(self, parser):
        parser.add_argument("--region", required=True)
        parser.add_argument("--state", choices=Anomaly.State.values)
        parser.add_argument("--since", type=parse_moment)
        parser.add_argument("--json", action="store_true", help="one JSON document on stdout")

    def handle(self, *args, region: str, state: str | None, since, json: bool, **options):
        try:
            rows = list(selectors.anomaly_list(region=region, state=state, since=since))
        except MisdirectedRegion as exc:
            raise CommandError(str(exc)) from exc
        shown = anomalies_represent(rows)
        if json:
            self.stdout.write(_dumps({"region": region, "anomalies": shown}))
            return
        for a, seen in zip(rows, shown, strict=True):
            self.stdout.write(
                f"{a.pk:>6} {a.state:<12} {a.kind:<8} {seen['site'] or a.site_id:<20} "
                f"{_subject(a):<24} {a.start:%Y-%m-%d %H:%M}..{a.end:%H:%M} "
                f"severity {a.severity:.1f} expected {a.expected:.0f} observed {a.observed:.0f}"
            )


def _subject(anomaly: Anomaly) -> str:
    """What the finding is about: a counter, a camera that went dark, or the whole site."""
    if anomaly.counter:
        return anomaly.counter
    return f"camera {anomaly.device_id}" if anomaly.device_id else "(whole site)"


def _dumps(document: dict) -> str:
    return json.dumps(document, indent=2)
