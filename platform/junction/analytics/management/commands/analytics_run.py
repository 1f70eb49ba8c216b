"""Run rollups and anomaly detection for one region now, in this process (no worker needed)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from django.core.management.base import CommandError
from django.utils import timezone

from junction.analytics import anomalies, rollups
from junction.analytics.detector import SKIP_HISTORY, SKIP_UNWATCHED
from junction.analytics.models import AnomalyKind
from junction.commands import JunctionCommand
from junction.residency.errors import MisdirectedRegion
from junction.residency.planes import served_alias


def parse_moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{value!r} is not an ISO 8601 date or time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


SKIP_REASONS = {
    SKIP_HISTORY: "without enough history (fewer than 3 past weeks of that quarter hour)",
    SKIP_UNWATCHED: "while their camera was dark (reported as its outage)",
}


class Command(JunctionCommand):
    help = (
        "Recompute rollups for [--since, --until) (default: the last day) plus any pending "
        "dirty windows, then detect anomalies over the same span."
    )

    def add_arguments(self, parser):
        parser.add_argument("--region", required=True)
        parser.add_argument("--since", type=parse_moment)
        parser.add_argument("--until", type=parse_moment)

    def handle(self, *args, region: str, since: datetime | None, until: datetime | None, **options):
        try:
            served_alias(region)
        except MisdirectedRegion as exc:
            raise CommandError(str(exc)) from exc
        until = until or timezone.now()
        since = since or until - timedelta(days=1)
        if since >= until:
            raise CommandError("--since must be before --until")
        recomputed = rollups.rollups_recompute_range(region=region, since=since, until=until)
        pending = rollups.dirty_windows_rollup(region=region)
        report = anomalies.anomalies_detect_region(region=region, since=since, until=until)
        by_kind = Counter(a.kind for a in report.recorded)
        skipped_windows = {reason: report.skipped[reason] for reason in SKIP_REASONS}
        payload = {
            "region": region,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "sites": len(recomputed),
            "rollups": sum(r.rollups for r in recomputed),
            "dirty_ranges_recomputed": len(pending),
            "windows_judged": report.judged,
            "windows_skipped": skipped_windows,
            "anomalies_recorded": len(report.recorded),
            "anomalies_by_kind": {kind: by_kind[kind] for kind in AnomalyKind.values},
        }
        skipped = (
            ", ".join(f"{n} {SKIP_REASONS[reason]}" for reason, n in skipped_windows.items() if n)
            or "none"
        )
        kinds = ", ".join(f"{n} {kind}" for kind, n in by_kind.items()) or "none"
        self.emit(
            options,
            payload,
            f"{region}: {payload['rollups']} rollups over {payload['sites']} site(s) for "
            f"{payload['since']}..{payload['until']}, {len(pending)} dirty range(s) "
            f"recomputed\n"
            f"counter windows judged: {report.judged}; not judged: {skipped}\n"
            f"anomalies recorded: {len(report.recorded)} ({kinds})",
        )
