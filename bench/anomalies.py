"""Anomaly detection bench: weeks of one-minute counts for many sites in four scenarios, injected
anomalies of every kind, detection with the platform's own functions, precision/recall/delay.

    .venv/bin/python bench/anomalies.py [--weeks 8] [--seed 7] [--scale 1.0]

Traffic: weekday double peak and weekend midday profile, a day-to-day level that wanders a few
percent, Poisson counts per minute. Minutes are rolled up to 15-minute windows with coverage,
exactly as the platform's rollups are, and the whole span is judged in one run (a backfill):
each window against the four weeks before it. Anomalies are injected after the fourth week.

Scenarios:
- urban: one camera per site, 45-210 vehicles per 15 minutes at the peak.
- multi-camera: two cameras per site, each with its own counter; outages hit one camera.
  Baseline in the same run: the counters judged on the site's mean coverage (the old rule).
- quiet roads: 7-22 vehicles per 15 minutes at the peak; closures of 80-95% for 2-6 hours,
  and empty nights (zero counts with the camera watching) that must not read as outages.
- holidays: two public holidays per site carry Sunday traffic. Baseline in the same run: the
  same data judged without the holiday calendar.
- through ingest: two-camera sites whose 15-minute buckets go through the real ingest endpoint
  (embedded default: SQLite files in a temporary folder, in-process tasks), a share of the
  batches days late, then `analytics_run` once over the whole range; scored from the stored
  anomalies against the direct judgement of the same data. Skip it with --no-ingest.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from junction.analytics.detector import (  # noqa: E402
    QUARTERS_PER_DAY,
    SUNDAY,
    Calendar,
    Finding,
    detect,
)

MINUTES_PER_DAY = 1440
WINDOW = 15
WINDOWS_PER_WEEK = 7 * MINUTES_PER_DAY // WINDOW
HISTORY_WEEKS = 4
KINDS = ("drop", "spike", "flatline", "erratic", "outage")
TRAFFIC = ("drop", "spike", "flatline", "erratic")


@dataclass
class Injected:
    site: int
    camera: int
    kind: str
    start: int  # minute index
    end: int  # exclusive
    magnitude: float


@dataclass(frozen=True)
class Scenario:
    name: str
    sites: int
    cameras: int
    peak_per_minute: tuple[float, float]
    plan: tuple[tuple[str, int], ...]  # (kind, how many per camera)
    durations: dict[str, tuple[int, int]] = field(default_factory=dict)  # minutes
    depths: tuple[float, float] = (0.4, 0.95)
    holidays: int = 0


DURATIONS = {
    "drop": (30, 181),
    "spike": (30, 121),
    "flatline": (150, 361),
    "erratic": (150, 301),
    "outage": (30, 241),
}
SCENARIOS = (
    Scenario(
        "urban",
        50,
        1,
        (3.0, 14.0),
        (("drop", 3), ("spike", 1), ("flatline", 1), ("erratic", 1), ("outage", 2)),
    ),
    Scenario(
        "multi-camera",
        20,
        2,
        (3.0, 14.0),
        (("drop", 2), ("spike", 1), ("flatline", 1), ("outage", 2)),
    ),
    Scenario(
        "quiet roads",
        30,
        1,
        (0.5, 1.5),
        (("drop", 2), ("spike", 1), ("outage", 1)),
        durations={"drop": (120, 361), "spike": (60, 181)},
        depths=(0.8, 0.95),
    ),
    Scenario("holidays", 20, 1, (3.0, 14.0), (("drop", 2), ("outage", 1)), holidays=2),
)


def daily_profile(minute_of_day: np.ndarray, weekend: bool) -> np.ndarray:
    hour = minute_of_day / 60.0
    if weekend:
        shape = 0.15 + 0.85 * np.exp(-(((hour - 13.5) / 4.0) ** 2))
    else:
        shape = (
            0.1
            + 0.9 * np.exp(-(((hour - 8.0) / 1.3) ** 2))
            + 0.95 * np.exp(-(((hour - 17.5) / 1.8) ** 2))
            + 0.45 * np.exp(-(((hour - 12.5) / 3.0) ** 2))
        )
    night = 0.03 + 0.97 / (1 + np.exp(-(hour - 5.5) * 2.5)) / (1 + np.exp((hour - 22.5) * 1.8))
    return shape * night


def generate_rate(
    rng: np.random.Generator, weeks: int, peak: tuple[float, float], holiday_days: list[int]
) -> np.ndarray:
    minutes = weeks * 7 * MINUTES_PER_DAY
    t = np.arange(minutes)
    day = t // MINUTES_PER_DAY
    weekend = ((day % 7) >= 5) | np.isin(day, holiday_days)  # a holiday's traffic is Sunday's
    minute_of_day = t % MINUTES_PER_DAY
    peak_per_minute = rng.uniform(*peak)
    rate = (
        np.where(
            weekend, 0.7 * daily_profile(minute_of_day, True), daily_profile(minute_of_day, False)
        )
        * peak_per_minute
    )
    level = np.exp(rng.normal(0.0, 0.06, size=weeks * 7))  # weather, school days, works
    return rate * level[day]


def schedule(
    rng: np.random.Generator,
    scenario: Scenario,
    site: int,
    camera: int,
    minutes: int,
    first_minute: int,
    taken: np.ndarray,
) -> list[Injected]:
    """Anomalies in the evaluated weeks, apart from each other and from the site's holidays."""
    events: list[Injected] = []
    for kind, n in scenario.plan:
        placed = 0
        low, high = scenario.durations.get(kind, DURATIONS[kind])
        while placed < n:
            duration = int(rng.integers(low, high))
            start = int(rng.integers(first_minute, minutes - duration))
            minute_of_day = start % MINUTES_PER_DAY
            # Incidents, events and stuck counts matter (and are defined) when there is
            # traffic; outages happen any time of day or night.
            if kind != "outage" and not (7 * 60 <= minute_of_day <= 19 * 60):
                continue
            pad = slice(max(0, start - 240), start + duration + 240)
            if taken[pad].any():
                continue
            taken[start : start + duration] = True
            magnitude = {"drop": rng.uniform(*scenario.depths), "spike": rng.uniform(0.8, 2.0)}.get(
                kind, 0.0
            )
            events.append(Injected(site, camera, kind, start, start + duration, magnitude))
            placed += 1
    return events


def counts_with_anomalies(
    rng: np.random.Generator, rate: np.ndarray, events: list[Injected]
) -> tuple[np.ndarray, np.ndarray]:
    rate = rate.copy()
    uptime = np.ones(rate.size)
    stuck: list[Injected] = []
    for event in events:
        span = slice(event.start, event.end)
        if event.kind == "drop":
            rate[span] *= 1 - event.magnitude
        elif event.kind == "spike":
            rate[span] *= 1 + event.magnitude
        elif event.kind == "erratic":
            # A failing sensor delivers counts in lumps: whole quarter hours too high or too low.
            blocks = np.arange(event.start, event.end) // WINDOW
            factor = np.exp(rng.normal(0.0, 1.0, size=blocks.max() - blocks.min() + 1))
            rate[span] *= factor[blocks - blocks.min()]
        elif event.kind == "outage":
            uptime[span] = 0.0
        elif event.kind == "flatline":
            stuck.append(event)
    counts = rng.poisson(rate).astype(float)
    counts[uptime == 0] = 0.0
    for event in stuck:
        # A frozen image or a stuck counter: the same per-minute count again and again.
        counts[event.start : event.end] = max(1.0, round(rate[event.start]))
    return counts, uptime


def to_windows(counts: np.ndarray, uptime: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (counts.reshape(-1, WINDOW).sum(axis=1), uptime.reshape(-1, WINDOW).mean(axis=1))


def calendar_with(n: int, holiday_days: list[int]) -> Calendar:
    regular = Calendar.regular(n)
    holiday = np.isin(np.arange(n) // QUARTERS_PER_DAY, holiday_days)
    slot = np.where(
        holiday, SUNDAY * QUARTERS_PER_DAY + np.arange(n) % QUARTERS_PER_DAY, regular.slot
    )
    return Calendar(week=regular.week, slot=slot, holiday=holiday)


Found = tuple[str, int, int, int]  # kind, camera, first window, last window


def judged(findings: list[Finding], camera: int, kinds: tuple[str, ...]) -> list[Found]:
    first_judged = HISTORY_WEEKS * WINDOWS_PER_WEEK
    return [
        (f.kind, camera, f.first, f.last)
        for f in findings
        if f.kind in kinds and f.last >= first_judged
    ]


@dataclass
class Outcome:
    events: list[Injected] = field(default_factory=list)
    findings: dict[int, list[Found]] = field(default_factory=dict)  # per site
    baseline: dict[int, list[Found]] = field(default_factory=dict)
    holiday_windows: dict[int, list[int]] = field(default_factory=dict)
    volumes: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    empty_night_windows: int = 0
    seconds: float = 0.0


def run_scenario(rng: np.random.Generator, scenario: Scenario, weeks: int, scale: float) -> Outcome:
    outcome = Outcome()
    minutes = weeks * 7 * MINUTES_PER_DAY
    first_evaluated = HISTORY_WEEKS * 7 * MINUTES_PER_DAY
    for site in range(max(1, round(scenario.sites * scale))):
        evaluated_days = np.arange(HISTORY_WEEKS * 7, weeks * 7)
        holiday_days = sorted(
            rng.choice(
                evaluated_days[evaluated_days % 7 < 5], scenario.holidays, replace=False
            ).tolist()
        )
        taken = np.zeros(minutes, dtype=bool)
        for day in holiday_days:
            taken[day * MINUTES_PER_DAY : (day + 1) * MINUTES_PER_DAY] = True
        windows = weeks * WINDOWS_PER_WEEK
        calendar = calendar_with(windows, holiday_days)
        cameras = []
        for camera in range(scenario.cameras):
            rate = generate_rate(rng, weeks, scenario.peak_per_minute, holiday_days)
            events = schedule(rng, scenario, site, camera, minutes, first_evaluated, taken)
            counts, uptime = counts_with_anomalies(rng, rate, events)
            cameras.append(to_windows(counts, uptime))
            outcome.volumes[(site, camera)] = cameras[-1]
            outcome.events.extend(events)
            night = np.arange(windows) % QUARTERS_PER_DAY < 4 * 4  # 00:00-04:00
            volume, coverage = cameras[-1]
            outcome.empty_night_windows += int(((volume == 0) & (coverage == 1) & night).sum())
        site_coverage = np.mean([coverage for _, coverage in cameras], axis=0)
        t0 = time.perf_counter()
        found: list[Found] = []
        before: list[Found] = []
        for camera, (volume, coverage) in enumerate(cameras):
            # Each counter on its own camera's coverage; outages per camera.
            found += judged(detect(volume, coverage, calendar), camera, KINDS)
            if scenario.cameras > 1:  # the old rule: every counter on the site's coverage
                before += judged(detect(volume, site_coverage, calendar), camera, KINDS)
            if scenario.holidays:
                before += judged(detect(volume, coverage, Calendar.regular(windows)), camera, KINDS)
        outcome.seconds += time.perf_counter() - t0
        outcome.findings[site] = _join(found)
        if before:
            outcome.baseline[site] = _join(before)
        outcome.holiday_windows[site] = [
            w
            for day in holiday_days
            for w in range(day * QUARTERS_PER_DAY, (day + 1) * QUARTERS_PER_DAY)
        ]
    return outcome


def _join(found: list[Found]) -> list[Found]:
    found = sorted(set(found), key=lambda f: (f[1], f[2]))
    joined: list[list] = []
    for kind, camera, first, last in found:
        if joined and joined[-1][:2] == [kind, camera] and first <= joined[-1][3] + 1:
            joined[-1][3] = max(joined[-1][3], last)
        else:
            joined.append([kind, camera, first, last])
    return [tuple(f) for f in joined]  # type: ignore[misc]


def _overlaps(f: Found, e: Injected) -> bool:
    return f[1] == e.camera and f[2] * WINDOW < e.end and (f[3] + 1) * WINDOW > e.start


def score(events: list[Injected], findings: dict[int, list[Found]]) -> dict[str, dict]:
    report = {}
    for kind in KINDS:
        truth = [e for e in events if e.kind == kind]
        hits, delays = 0, []
        for event in truth:
            matches = [f for f in findings[event.site] if f[0] == kind and _overlaps(f, event)]
            if matches:
                hits += 1
                first = min(f[2] for f in matches)  # reported at the end of its first window
                delays.append(max(0, (first + 1) * WINDOW - event.start))
        reported = [(site, f) for site, fs in findings.items() for f in fs if f[0] == kind]
        true_reports = sum(
            1
            for site, f in reported
            if any(e.site == site and e.kind == kind and _overlaps(f, e) for e in events)
        )
        unrelated = sum(
            1 for site, f in reported if not any(e.site == site and _overlaps(f, e) for e in events)
        )
        report[kind] = {
            "injected": len(truth),
            "reported": len(reported),
            "unrelated": unrelated,
            "precision": true_reports / len(reported) if reported else float("nan"),
            "recall": hits / len(truth) if truth else float("nan"),
            "delay": float(np.median(delays)) if delays else float("nan"),
        }
    return report


def outages_as_drops(events: list[Injected], findings: dict[int, list[Found]]) -> int:
    """Drop or spike reports on a camera's counter during that camera's own outage."""
    return sum(
        1
        for site, fs in findings.items()
        for f in fs
        if f[0] in ("drop", "spike")
        and any(e.site == site and e.kind == "outage" and _overlaps(f, e) for e in events)
    )


def holiday_alarms(outcome: Outcome, findings: dict[int, list[Found]]) -> int:
    return sum(
        1
        for site, fs in findings.items()
        for f in fs
        if f[0] in TRAFFIC and set(range(f[2], f[3] + 1)) & set(outcome.holiday_windows[site])
    )


def print_table(title: str, report: dict[str, dict]) -> None:
    print(title)
    print(
        f"  {'kind':<10}{'injected':>9}{'reported':>9}{'precision':>10}{'recall':>8}"
        f"{'median delay (min)':>20}{'false alarms':>14}"
    )
    for kind, row in report.items():
        if not row["injected"] and not row["reported"]:
            continue
        print(
            f"  {kind:<10}{row['injected']:>9}{row['reported']:>9}{row['precision']:>10.3f}"
            f"{row['recall']:>8.3f}{row['delay']:>20.1f}{row['unrelated']:>14}"
        )


INGEST = Scenario("through ingest", 4, 2, (3.0, 14.0), (("drop", 1), ("spike", 1), ("outage", 1)))
LATE_SHARE = 0.15  # of the batches, sent after all the others (a spool delivering its backlog)


def _signed_post(client, device_id: str, secret: str, body: bytes):
    stamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    return client.post(
        "/api/v1/ingest/batches",
        data=body,
        content_type="application/json",
        headers={
            "X-Junction-Device": device_id,
            "X-Junction-Timestamp": stamp,
            "X-Junction-Signature": "v1=" + signature.hexdigest(),
            "Idempotency-Key": json.loads(body)["batch_id"],
        },
    )


def through_ingest(rng: np.random.Generator, weeks: int) -> tuple[Outcome, dict]:
    """The INGEST scenario's data posted as signed batches of a day of 15-minute buckets."""
    os.environ["JUNCTION_VAR_DIR"] = tempfile.mkdtemp(prefix="junction-bench-")
    for name in ("DATABASE_URL", "JUNCTION_REGIONS", "JUNCTION_REGION", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "junction.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from junction.analytics.models import Anomaly
    from junction.sites import services
    from junction.sites.models import Site

    call_command("migrate_all", verbosity=0)
    services.region_add(code="eu-west", name="Europe West", endpoint="")
    now = timezone.now()
    this_monday = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    first_day = this_monday - timedelta(weeks=weeks)  # whole weeks, none in the future
    outcome = run_scenario(rng, INGEST, weeks, 1.0)  # generated and judged directly
    batches: list[tuple[str, str, bytes]] = []
    cameras: dict[tuple[int, int], tuple[str, str]] = {}
    for site in outcome.findings:
        slug = f"site-{site}"
        services.site_add(
            slug=slug,
            region="eu-west",
            name=slug,
            counters={
                f"line-{c}": {"line": [0, 100 * c, 400, 100 * c]} for c in range(INGEST.cameras)
            },
        )
        for camera in range(INGEST.cameras):
            issued = services.device_add(device_id=f"{slug}-cam-{camera}", site=slug)
            cameras[(site, camera)] = (issued.device.device_id, f"line-{camera}")
            volume, coverage = outcome.volumes[(site, camera)]
            for day in range(0, volume.size, QUARTERS_PER_DAY):
                buckets = [
                    {
                        "start": (first_day + timedelta(minutes=WINDOW * i)).strftime(
                            "%Y-%m-%dT%H:%M:%SZ"
                        ),
                        "seconds": WINDOW * 60,
                        "uptime": float(coverage[i]),
                        "counts": [
                            {
                                "counter": f"line-{camera}",
                                "direction": "in",
                                "class": "car",
                                "count": int(volume[i]),
                            }
                        ]
                        if volume[i] and coverage[i]
                        else [],
                    }
                    for i in range(day, day + QUARTERS_PER_DAY)
                ]
                body = json.dumps(
                    {
                        "schema": "junction.batch/v1",
                        "batch_id": str(uuid.uuid4()),
                        "device_id": issued.device.device_id,
                        "site": slug,
                        "region": "eu-west",
                        "model": {"name": "yolox_nano", "sha256": "0" * 64},
                        "buckets": buckets,
                    }
                ).encode()
                batches.append((issued.device.device_id, issued.secret, body))
    late = rng.random(len(batches)) < LATE_SHARE
    order = [b for b, is_late in zip(batches, late, strict=True) if not is_late] + [
        b for b, is_late in zip(batches, late, strict=True) if is_late
    ]
    client = Client()
    started = time.perf_counter()
    for device_id, secret, body in order:
        response = _signed_post(client, device_id, secret, body)
        assert response.status_code == 201, response.content
    ingest_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        call_command(
            "analytics_run",
            "--region",
            "eu-west",
            "--since",
            first_day.isoformat(),
            "--until",
            (first_day + timedelta(weeks=weeks)).isoformat(),
            "--json",
            stdout=quiet,
        )
    analytics_seconds = time.perf_counter() - started
    by_device = {device: key for key, (device, _) in cameras.items()}
    by_counter = {
        (f"site-{site}", counter): (site, camera)
        for (site, camera), (_, counter) in cameras.items()
    }
    slugs = dict(Site.objects.values_list("pk", "slug"))
    stored: dict[int, list[Found]] = {site: [] for site in outcome.findings}
    for anomaly in Anomaly.objects.in_region("eu-west").all():
        site, camera = (
            by_device[anomaly.device_id]
            if anomaly.device_id
            else by_counter[(slugs[anomaly.site_id], anomaly.counter)]
        )
        first = int((anomaly.start - first_day) / timedelta(minutes=WINDOW))
        last = int((anomaly.end - first_day) / timedelta(minutes=WINDOW)) - 1
        stored[site].append((anomaly.kind, camera, first, last))
    judged_directly = outcome.findings
    outcome.findings = {site: _join(found) for site, found in stored.items()}
    return outcome, {
        "batches": len(order),
        "late": int(late.sum()),
        "ingest_seconds": ingest_seconds,
        "analytics_seconds": analytics_seconds,
        "same_as_direct": outcome.findings == judged_directly,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0, help="share of each scenario's sites")
    parser.add_argument("--no-ingest", action="store_true", help="skip the through-ingest run")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(
        f"anomaly bench: {args.weeks} weeks of one-minute counts per camera, 15-minute "
        f"windows, judged in one run (each window against the {HISTORY_WEEKS} weeks before "
        f"it), anomalies after week {HISTORY_WEEKS}, seed {args.seed}"
    )
    for scenario in SCENARIOS:
        started = time.perf_counter()
        outcome = run_scenario(rng, scenario, args.weeks, args.scale)
        sites = len(outcome.findings)
        print()
        print_table(
            f"{scenario.name}: {sites} sites x {scenario.cameras} camera(s), "
            f"{time.perf_counter() - started:.1f} s (detection {outcome.seconds:.2f} s)",
            score(outcome.events, outcome.findings),
        )
        print(
            f"  outage windows reported as a drop or spike: "
            f"{outages_as_drops(outcome.events, outcome.findings)}"
        )
        if scenario.cameras > 1:
            before = score(outcome.events, outcome.baseline)
            print_table(
                "  baseline, same data: counters judged on the site's mean coverage", before
            )
            print(
                f"  baseline outage windows reported as a drop or spike: "
                f"{outages_as_drops(outcome.events, outcome.baseline)}"
            )
        if scenario.name == "quiet roads":
            print(
                f"  empty night windows (zero counted, camera watching): "
                f"{outcome.empty_night_windows}; outages reported: "
                f"{score(outcome.events, outcome.findings)['outage']['unrelated']} unrelated"
            )
        if scenario.holidays:
            print(
                f"  traffic alarms on holidays: {holiday_alarms(outcome, outcome.findings)} "
                f"with the calendar, {holiday_alarms(outcome, outcome.baseline)} without it "
                f"(same data, same run)"
            )
    if not args.no_ingest:
        ingest_weeks = 6
        outcome, run = through_ingest(rng, ingest_weeks)
        print()
        print_table(
            f"through ingest: {len(outcome.findings)} sites x {INGEST.cameras} cameras x "
            f"{ingest_weeks} weeks, {run['batches']} batches of a day of 15-minute "
            f"buckets ({run['late']} sent late, after all the others); ingest "
            f"{run['ingest_seconds']:.1f} s ({run['batches'] / run['ingest_seconds']:.1f}"
            f" batches/s), analytics_run once over the range "
            f"{run['analytics_seconds']:.1f} s",
            score(outcome.events, outcome.findings),
        )
        print(
            f"  outage windows reported as a drop or spike: "
            f"{outages_as_drops(outcome.events, outcome.findings)}; stored anomalies equal "
            f"the direct judgement of the same data: {run['same_as_direct']}"
        )
    print()
    print(
        "false alarms: reports overlapping no injected anomaly of any kind; the other "
        "imprecise reports name the wrong kind for a real one"
    )


if __name__ == "__main__":
    main()
