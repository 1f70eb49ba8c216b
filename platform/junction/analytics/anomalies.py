"""Anomaly services: detection loads a site's 15-minute rollups and each camera's coverage, runs
the pure detector (junction.analytics.detector) per counter and per camera, and records the
findings as anomalies; triage moves them from open to acknowledged to resolved.

Outages belong to the camera that went dark; traffic anomalies (drops, spikes, flatlines,
erratic counts) to a counter, judged on the coverage of the camera that feeds it. Runs overlap
and late data re-opens old windows, so recording is an upsert: a finding that overlaps or
touches an anomaly of the same site, counter, camera and kind extends it instead of adding
another, and an outage that late data has since filled shrinks or is withdrawn.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Min, Sum
from django.utils import timezone

from junction.analytics import alerts
from junction.analytics.detector import (
    BASELINE_WEEKS,
    SKIP_HISTORY,
    SKIP_UNWATCHED,
    TRAFFIC_KINDS,
    Calendar,
    Finding,
    judge,
)
from junction.analytics.holidays import public_holidays
from junction.analytics.models import Anomaly, DeviceCoverage, Period, Rollup
from junction.analytics.rollups import counter_feeds, site_timezone
from junction.analytics.windows import QUARTER, floor_quarter
from junction.residency.planes import served_alias
from junction.sites.models import Site
from junction.sites.selectors import site_cameras
from junction.traffic.coverage import counter_cameras

log = logging.getLogger(__name__)

LOOKBACK = timedelta(days=1)
FINDING_REACH = timedelta(days=1)
# Batches arrive a few minutes after their buckets end; judging the newest windows before
# they are delivered would report every site as an outage.
DELIVERY_LAG = timedelta(minutes=30)
LATE_DATA = "system:late-data"
LIVE_STATES = (Anomaly.State.OPEN, Anomaly.State.ACKNOWLEDGED)


@dataclass(frozen=True)
class Series:
    starts: list[datetime]
    calendar: Calendar
    cameras: dict[str, np.ndarray]  # device id -> coverage per window
    volumes: dict[str, np.ndarray]  # counter -> volume per window
    feeds: dict[str, set[str]]  # counter -> the devices that count it

    def coverage_of(self, counter: str) -> np.ndarray:
        """A counter is watched when the cameras that count it are; one dark camera of two
        leaves the other camera's counters fully measured (junction.traffic.coverage)."""
        chosen = counter_cameras(counter, feeds=self.feeds, present=self.cameras)
        return np.mean([self.cameras[d] for d in chosen], axis=0)


@dataclass
class SiteReport:
    """What one detection run did for one site, for operators and the command's JSON."""

    recorded: list[Anomaly] = field(default_factory=list)
    judged: int = 0  # counter windows compared with a baseline
    skipped: Counter = field(default_factory=Counter)  # reason -> counter windows

    def add(self, other: SiteReport) -> None:
        self.recorded.extend(other.recorded)
        self.judged += other.judged
        self.skipped.update(other.skipped)


def site_series(*, region: str, site_id: int, start: datetime, end: datetime) -> Series:
    """Dense 15-minute series: a camera with no coverage row for a window sent no bucket for
    it, hence coverage 0."""
    n = int((end - start) / QUARTER)
    starts = [start + i * QUARTER for i in range(n)]
    site = Site.objects.select_related("region").get(pk=site_id)
    cameras = {device_id: np.zeros(n) for device_id in sorted(site_cameras(site_id=site_id))}
    for device_id, window, cover in (
        DeviceCoverage.objects.in_region(region)
        .filter(site_id=site_id, period=Period.QUARTER_HOUR, start__gte=start, start__lt=end)
        .values_list("device_id", "start", "coverage")
    ):
        cameras.setdefault(device_id, np.zeros(n))[int((window - start) / QUARTER)] = cover
    volumes: dict[str, np.ndarray] = {}
    totals = (
        Rollup.objects.in_region(region)
        .filter(site_id=site_id, period=Period.QUARTER_HOUR, start__gte=start, start__lt=end)
        .values("start", "counter")
        .annotate(volume=Sum("count"))
        .order_by()
    )
    for row in totals:
        volumes.setdefault(row["counter"], np.zeros(n))[int((row["start"] - start) / QUARTER)] = (
            row["volume"]
        )
    feeds = counter_feeds(region=region, site_id=site_id)
    tz = site_timezone(site_id)
    days_off = public_holidays(site.region, start.astimezone(tz).date(), end.astimezone(tz).date())
    return Series(
        starts=starts,
        calendar=Calendar.of(starts, tz, days_off),
        cameras=cameras,
        volumes=volumes,
        feeds=feeds,
    )


def camera_outages(series: Series) -> dict[str, list[Finding]]:
    """Outages per camera, from the first window it ever delivered: a camera being set up, or
    one that never reported in the span, is not dark."""
    found: dict[str, list[Finding]] = {}
    for device_id, coverage in sorted(series.cameras.items()):
        delivered = np.flatnonzero(coverage > 0)
        if delivered.size == 0:
            continue
        in_service = np.arange(coverage.size) >= delivered[0]
        watched = np.where(in_service, coverage, 1.0)
        # What it would have counted: the traffic an outage missed is told to the operator.
        volume = sum(
            (v for c, v in series.volumes.items() if device_id in series.feeds.get(c, {device_id})),
            np.zeros(coverage.size),
        )
        found[device_id] = [
            f for f in judge(volume, watched, series.calendar).findings if f.kind == "outage"
        ]
    return found


def anomalies_detect_site(
    *, region: str, site_id: int, since: datetime, until: datetime
) -> SiteReport:
    """Judge the windows of [since, until) against the weeks before each, and record what is
    found (a finding that started earlier is recorded from its real start)."""
    since, until = floor_quarter(since), floor_quarter(until)
    # A finding may have begun before `since`: the windows of its first day get their full
    # history too, so a run a day judges them exactly as one run over the whole range does.
    history_start = since - timedelta(weeks=BASELINE_WEEKS) - FINDING_REACH
    series = site_series(region=region, site_id=site_id, start=history_start, end=until)
    report = SiteReport()
    if not any(coverage.any() for coverage in series.cameras.values()):
        return report  # never reported in five weeks: a site being set up, not an outage
    judged_from = int((since - history_start) / QUARTER)
    outages = camera_outages(series)
    findings: list[tuple[str, str, Finding]] = [
        ("", device_id, f) for device_id, fs in outages.items() for f in fs if f.last >= judged_from
    ]
    for counter, volume in sorted(series.volumes.items()):
        judgement = judge(volume, series.coverage_of(counter), series.calendar)
        report.judged += int(judgement.judged[judged_from:].sum())
        for reason in (SKIP_HISTORY, SKIP_UNWATCHED):
            report.skipped[reason] += int(judgement.skipped[reason][judged_from:].sum())
        findings.extend(
            (counter, "", f)
            for f in judgement.findings
            if f.kind in TRAFFIC_KINDS and f.last >= judged_from
        )
    with transaction.atomic(using=served_alias(region)):
        for device_id, device_outages in outages.items():
            _outages_revise(
                region=region,
                site_id=site_id,
                device_id=device_id,
                found=device_outages,
                series=series,
            )
        for counter, device_id, finding in findings:
            anomaly = anomaly_record(
                region=region,
                site_id=site_id,
                counter=counter,
                device_id=device_id,
                finding=finding,
                starts=series.starts,
            )
            if anomaly is not None:
                report.recorded.append(anomaly)
    for anomaly in report.recorded:
        alerts.alerts_dispatch(region=region, anomaly_id=anomaly.pk)
    return report


def _outages_revise(
    *, region: str, site_id: int, device_id: str, found: list[Finding], series: Series
) -> None:
    """Late data corrects outages: the camera was not dark, only its uplink.

    An outage whose windows have all arrived since is withdrawn (the record says the system
    did it); one that arrived in part shrinks to the windows still missing, with the traffic
    it missed recomputed. The hours that arrived are judged for traffic like any other.
    """
    first, end = series.starts[0], series.starts[-1] + QUARTER
    for outage in Anomaly.objects.in_region(region).filter(
        site_id=site_id,
        device_id=device_id,
        kind="outage",
        state__in=LIVE_STATES,
        start__gte=first,
        end__lte=end,
    ):
        lo, hi = int((outage.start - first) / QUARTER), int((outage.end - first) / QUARTER)
        within = [f for f in found if f.first < hi and f.last >= lo]
        if not within:
            Anomaly.objects.in_region(region).filter(pk=outage.pk, state__in=LIVE_STATES).update(
                state=Anomaly.State.RESOLVED, resolved_by=LATE_DATA, resolved_at=timezone.now()
            )
            log.info("outage %s of %s withdrawn: its data arrived late", outage.pk, device_id)
            continue
        kept = within[0]
        keep_lo, keep_hi = max(lo, kept.first), min(hi, kept.last + 1)
        if (keep_lo, keep_hi) == (lo, hi):
            continue
        part = slice(keep_lo - kept.first, keep_hi - kept.first)
        outage.start, outage.end = series.starts[keep_lo], series.starts[keep_hi - 1] + QUARTER
        outage.expected = round(float(kept.expected[part].sum()), 1)
        outage.observed = round(float(kept.observed[part].sum()), 1)
        outage.save(update_fields=["start", "end", "expected", "observed"])
        log.info(
            "outage %s of %s trimmed to %s..%s: part of its data arrived late",
            outage.pk,
            device_id,
            outage.start,
            outage.end,
        )


def anomaly_record(
    *,
    region: str,
    site_id: int,
    counter: str,
    device_id: str = "",
    finding: Finding,
    starts: list[datetime],
) -> Anomaly | None:
    """Create the anomaly, or extend the one it continues; None when nothing changed."""
    start = starts[finding.first]
    end = starts[finding.last] + QUARTER
    window_starts = starts[finding.first : finding.last + 1]
    existing = (
        Anomaly.objects.in_region(region)
        .select_for_update()
        .filter(
            site_id=site_id,
            counter=counter,
            device_id=device_id,
            kind=finding.kind,
            start__lte=end,
            end__gte=start,
        )
        .order_by("start")
        .first()
    )
    if existing is None:
        return _anomaly_create(region, site_id, counter, device_id, finding, start, end)
    if end <= existing.end and start >= existing.start:
        return None
    if existing.state == Anomaly.State.RESOLVED:
        # Resolved by someone, yet still going on: a new anomaly for what came after.
        after = [i for i, s in enumerate(window_starts) if s >= existing.end]
        if not after:
            return None
        tail = Finding(
            kind=finding.kind,
            first=finding.first + after[0],
            last=finding.last,
            severity=finding.severity,
            expected=finding.expected[after[0] :],
            observed=finding.observed[after[0] :],
        )
        return _anomaly_create(region, site_id, counter, device_id, tail, existing.end, end)
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


def _anomaly_create(
    region: str,
    site_id: int,
    counter: str,
    device_id: str,
    finding: Finding,
    start: datetime,
    end: datetime,
) -> Anomaly:
    anomaly = Anomaly(
        region=region,
        site_id=site_id,
        counter=counter,
        device_id=device_id,
        kind=finding.kind,
        start=start,
        end=end,
        severity=finding.severity,
        expected=round(float(finding.expected.sum()), 1),
        observed=round(float(finding.observed.sum()), 1),
    )
    anomaly.save()
    log.info(
        "anomaly %s at site %s/%s %s..%s severity %s",
        finding.kind,
        site_id,
        counter or device_id or "*",
        start,
        end,
        finding.severity,
    )
    return anomaly


def late_windows_since(*, region: str, site_id: int, computed_since: datetime) -> datetime | None:
    """The earliest window whose coverage was (re)computed since `computed_since`: where data
    that arrived late must be judged again, however old its windows are."""
    return (
        DeviceCoverage.objects.in_region(region)
        .filter(site_id=site_id, period=Period.QUARTER_HOUR, computed_at__gte=computed_since)
        .aggregate(first=Min("start"))["first"]
    )


def anomalies_detect_region(
    *, region: str, since: datetime | None = None, until: datetime | None = None
) -> SiteReport:
    """Judge every site of the region. Without `since`, the last day, reaching back to any
    window whose data arrived within that day (a spool delivering a week's backlog)."""
    now = timezone.now()
    until = until or now - DELIVERY_LAG
    report = SiteReport()
    for site_id in Site.objects.filter(region__code=region).values_list("pk", flat=True):
        site_since = since or until - LOOKBACK
        if since is None:
            late = late_windows_since(region=region, site_id=site_id, computed_since=now - LOOKBACK)
            if late is not None and late < site_since:
                site_since = late
        report.add(
            anomalies_detect_site(region=region, site_id=site_id, since=site_since, until=until)
        )
    return report


def anomaly_acknowledge(*, region: str, anomaly_id: int, user: str) -> Anomaly:
    """open -> acknowledged; claimed with filter().update() so two clicks cannot both win."""
    with transaction.atomic(using=served_alias(region)):
        changed = (
            Anomaly.objects.in_region(region)
            .filter(pk=anomaly_id, state=Anomaly.State.OPEN)
            .update(
                state=Anomaly.State.ACKNOWLEDGED,
                acknowledged_by=user,
                acknowledged_at=timezone.now(),
            )
        )
        anomaly = Anomaly.objects.in_region(region).get(pk=anomaly_id)
    if changed != 1:
        raise ValidationError({"state": f"anomaly {anomaly_id} is {anomaly.state}, not open"})
    return anomaly


def anomaly_resolve(*, region: str, anomaly_id: int, user: str) -> Anomaly:
    """open or acknowledged -> resolved."""
    with transaction.atomic(using=served_alias(region)):
        changed = (
            Anomaly.objects.in_region(region)
            .filter(pk=anomaly_id, state__in=[Anomaly.State.OPEN, Anomaly.State.ACKNOWLEDGED])
            .update(state=Anomaly.State.RESOLVED, resolved_by=user, resolved_at=timezone.now())
        )
        anomaly = Anomaly.objects.in_region(region).get(pk=anomaly_id)
    if changed != 1:
        raise ValidationError({"state": f"anomaly {anomaly_id} is already resolved"})
    return anomaly
