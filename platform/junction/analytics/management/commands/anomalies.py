"""List a region's anomalies, as a table or as JSON."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from junction.analytics import selectors
from junction.analytics.alerts import anomaly_payload
from junction.analytics.management.commands.analytics_run import parse_moment
from junction.analytics.models import Anomaly
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
        if json:
            self.stdout.write(_dumps({"region": region, "anomalies": [
                {**anomaly_payload(a), "acknowledged_by": a.acknowledged_by or None,
                 "resolved_by": a.resolved_by or None} for a in rows]}))
            return
        for a in rows:
            self.stdout.write(
                f"{a.pk:>6} {a.state:<12} {a.kind:<8} site {a.site_id} {a.counter or '*':<16} "
                f"{a.start:%Y-%m-%d %H:%M}..{a.end:%H:%M} severity {a.severity:.1f} "
                f"expected {a.expected:.0f} observed {a.observed:.0f}"
            )


def _dumps(document: dict) -> str:
    return json.dumps(document, indent=2)
