"""Anomaly detection service: loads a site's 15-minute rollups and coverage, runs the pure
detector (junction.analytics.anomalies) per counter, and records the findings as anomalies.

Runs overlap (each looks back a day), so recording is an upsert: a finding that overlaps or
touches an anomaly of the same site, counter and kind extends it instead of adding another.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from junction.analytics import alerts
from junction.analytics.anomalies import (
    LEVEL_WINDOWS,
    OUTAGE_COVERAGE,
    Finding,
    baseline_fit,
    detect,
)
from junction.analytics.models import Anomaly, Period, Rollup, WindowCoverage
from junction.analytics.rollups import site_timezone
from junction.analytics.windows import QUARTER, floor_quarter
from junction.residency.planes import served_alias
from junction.sites.models import Site

log = logging.getLogger(__name__)

BASELINE_WEEKS = 4
LOOKBACK = timedelta(days=1)
# Batches arrive a few minutes after their buckets end; judging the newest windows before
# they are delivered would report every site as an outage.
DELIVERY_LAG = timedelta(minutes=30)
SITE_WIDE = ""
LATE_DATA = "system:late-data"


@dataclass(frozen=True)
class Series:
    starts: list[datetime]
    slots: np.ndarray
    coverage: np.ndarray
    volumes: dict[str, np.ndarray]  # per counter

    def total(self) -> np.ndarray:
        return sum(self.volumes.values(), np.zeros(len(self.starts)))


def quarter_of_week(starts: list[datetime], tz: ZoneInfo) -> np.ndarray:
    local = [s.astimezone(tz) for s in starts]
    return np.array([t.weekday() * 96 + t.hour * 4 + t.minute // 15 for t in local], dtype=int)


def site_series(*, region: str, site_id: int, start: datetime, end: datetime) -> Series:
    """Dense 15-minute series: windows with no coverage row had no bucket, hence coverage 0."""
    n = int((end - start) / QUARTER)
    starts = [start + i * QUARTER for i in range(n)]
    coverage = np.zeros(n)
    for window, cover in WindowCoverage.objects.in_region(region).filter(
            site_id=site_id, period=Period.QUARTER_HOUR, start__gte=start,
            start__lt=end).values_list("start", "coverage"):
        coverage[int((window - start) / QUARTER)] = cover
    volumes: dict[str, np.ndarray] = {}
    totals = (Rollup.objects.in_region(region)
              .filter(site_id=site_id, period=Period.QUARTER_HOUR, start__gte=start, start__lt=end)
              .values("start", "counter").annotate(volume=Sum("count")).order_by())
    for row in totals:
        volumes.setdefault(row["counter"], np.zeros(n))[
            int((row["start"] - start) / QUARTER)] = row["volume"]
    return Series(starts=starts, slots=quarter_of_week(starts, site_timezone(site_id)),
                  coverage=coverage, volumes=volumes)


def site_findings(series: Series, judged_from: int) -> list[tuple[str, Finding]]:
    """(counter, finding) pairs for windows from index `judged_from` on."""
    history = slice(0, judged_from)
    lead_in = max(0, judged_from - LEVEL_WINDOWS)  # lets the day-level estimate warm up
    judged = slice(lead_in, len(series.starts))
    found: list[tuple[str, Finding]] = []

    def run(counter: str, volume: np.ndarray, keep: set[str] | None) -> None:
        baseline = baseline_fit(volume[history], series.coverage[history], series.slots[history])
        for finding in detect(volume[judged], series.coverage[judged], series.slots[judged],
                              baseline):
            finding.first += lead_in
            finding.last += lead_in
            if finding.last >= judged_from and (keep is None or finding.kind in keep):
                found.append((counter, finding))

    # An outage darkens every counter at once: report it once, for the site.
    run(SITE_WIDE, series.total(), keep={"outage"})
    for counter, volume in sorted(series.volumes.items()):
        run(counter, volume, keep={"drop", "spike", "flatline", "erratic"})
    return found


def anomalies_detect_site(*, region: str, site_id: int, since: datetime,
                          until: datetime) -> list[Anomaly]:
    since, until = floor_quarter(since), floor_quarter(until)
    history_start = since - timedelta(weeks=BASELINE_WEEKS)
    series = site_series(region=region, site_id=site_id, start=history_start, end=until)
    if not series.coverage.any():
        return []  # never reported in five weeks: a site being set up, not an outage
    judged_from = int((since - history_start) / QUARTER)
    recorded = []
    with transaction.atomic(using=served_alias(region)):
        _outages_withdraw(region=region, site_id=site_id, series=series, since=since)
        for counter, finding in site_findings(series, judged_from):
            anomaly = anomaly_record(region=region, site_id=site_id, counter=counter,
                                     finding=finding, starts=series.starts)
            if anomaly is not None:
                recorded.append(anomaly)
    for anomaly in recorded:
        alerts.alerts_dispatch(region=region, anomaly_id=anomaly.pk)
    return recorded


def _outages_withdraw(*, region: str, site_id: int, series: Series, since: datetime) -> None:
    """Resolve open outages whose data has since arrived (an edge spool delivering late).

    The device was not dark, only its uplink: once every window of the outage is covered, the
    finding no longer stands, and the record says the system withdrew it.
    """
    first_start = series.starts[0]
    for outage in Anomaly.objects.in_region(region).filter(
            site_id=site_id, counter=SITE_WIDE, kind="outage", state=Anomaly.State.OPEN,
            start__gte=since, end__lte=series.starts[-1] + QUARTER):
        span = slice(int((outage.start - first_start) / QUARTER),
                     int((outage.end - first_start) / QUARTER))
        if series.coverage[span].min() >= OUTAGE_COVERAGE:
            Anomaly.objects.in_region(region).filter(
                pk=outage.pk, state=Anomaly.State.OPEN
            ).update(state=Anomaly.State.RESOLVED, resolved_by=LATE_DATA,
                     resolved_at=timezone.now())
            log.info("outage %s at site %s withdrawn: its data arrived late", outage.pk, site_id)


def anomaly_record(*, region: str, site_id: int, counter: str, finding: Finding,
                   starts: list[datetime]) -> Anomaly | None:
    """Create the anomaly, or extend the one it continues; None when nothing changed."""
    start = starts[finding.first]
    end = starts[finding.last] + QUARTER
    window_starts = starts[finding.first:finding.last + 1]
    existing = (Anomaly.objects.in_region(region).select_for_update()
                .filter(site_id=site_id, counter=counter, kind=finding.kind,
                        start__lte=end, end__gte=start).order_by("start").first())
    if existing is None:
        return _anomaly_create(region, site_id, counter, finding, start, end)
    if end <= existing.end and start >= existing.start:
        return None
    if existing.state == Anomaly.State.RESOLVED:
        # Resolved by someone, yet still going on: a new anomaly for what came after.
        after = [i for i, s in enumerate(window_starts) if s >= existing.end]
        if not after:
            return None
        tail = Finding(kind=finding.kind, first=finding.first + after[0], last=finding.last,
                       severity=finding.severity, expected=finding.expected[after[0]:],
                       observed=finding.observed[after[0]:])
        return _anomaly_create(region, site_id, counter, tail, existing.end, end)
    if start <= existing.start:
        expected, observed = finding.expected.sum(), finding.observed.sum()
    else:
        newer = np.array([s >= existing.end for s in window_starts])
        expected = existing.expected + finding.expected[newer].sum()
        observed = existing.observed + finding.observed[newer].sum()
    existing.start, existing.end = min(start, existing.start), max(end, existing.end)
    existing.severity = max(existing.severity, finding.severity)
    existing.expected, existing.observed = round(float(expected), 1), round(float(observed), 1)
    existing.save(update_fields=["start", "end", "severity", "expected", "observed"])
    return existing


def _anomaly_create(region: str, site_id: int, counter: str, finding: Finding,
                    start: datetime, end: datetime) -> Anomaly:
    anomaly = Anomaly(region=region, site_id=site_id, counter=counter, kind=finding.kind,
                      start=start, end=end, severity=finding.severity,
                      expected=round(float(finding.expected.sum()), 1),
                      observed=round(float(finding.observed.sum()), 1))
    anomaly.save()
    log.info("anomaly %s at site %s/%s %s..%s severity %s", finding.kind, site_id,
             counter or "*", start, end, finding.severity)
    return anomaly


def anomalies_detect_region(*, region: str, since: datetime | None = None,
                            until: datetime | None = None) -> list[Anomaly]:
    until = until or timezone.now() - DELIVERY_LAG
    since = since or until - LOOKBACK
    site_ids = Site.objects.filter(region__code=region).values_list("pk", flat=True)
    found = []
    for site_id in site_ids:
        found.extend(anomalies_detect_site(region=region, site_id=site_id, since=since,
                                           until=until))
    return found
