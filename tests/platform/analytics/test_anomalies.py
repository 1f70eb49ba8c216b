"""Detection on generated traffic (daily and weekly profiles, Poisson noise, fixed seed):
injected incidents, events, stuck counts and outages are found and told apart; quiet nights
and ordinary days are not flagged."""

from __future__ import annotations

import numpy as np
import pytest

from junction.analytics.anomalies import Finding, baseline_fit, detect
from tests.platform.analytics.traffic import (
    WINDOWS_PER_WEEK,
    generate,
    inject_drop,
    inject_flatline,
    inject_outage,
    inject_spike,
    window,
)

HISTORY = slice(0, 4 * WINDOWS_PER_WEEK)
JUDGED = slice(4 * WINDOWS_PER_WEEK, 5 * WINDOWS_PER_WEEK)
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def judge(traffic) -> list[Finding]:
    baseline = baseline_fit(traffic.volume[HISTORY], traffic.coverage[HISTORY],
                            traffic.slots[HISTORY])
    findings = detect(traffic.volume[JUDGED], traffic.coverage[JUDGED], traffic.slots[JUDGED],
                      baseline)
    offset = JUDGED.start
    for f in findings:
        f.first += offset
        f.last += offset
    return findings


def overlapping(findings: list[Finding], start: int, windows: int) -> list[Finding]:
    return [f for f in findings if f.first < start + windows and f.last >= start]


@pytest.fixture
def rng():
    return np.random.default_rng(20261127)


def test_it_flags_nothing_in_an_ordinary_week_nights_included(rng):
    for _ in range(5):  # five sites' worth of ordinary weeks
        assert judge(generate(rng, weeks=5)) == []


def test_it_flags_nothing_on_a_very_quiet_road_at_night(rng):
    traffic = generate(rng, weeks=5, peak_per_window=12.0)
    assert judge(traffic) == []


@pytest.mark.parametrize(("depth", "windows"), [(0.9, 6), (0.5, 4), (0.4, 2)])
def test_it_finds_an_incident_that_cuts_traffic(rng, depth, windows):
    traffic = generate(rng, weeks=5)
    start = window(4, TUE, 8.0)
    inject_drop(rng, traffic, start, windows, depth)
    found = overlapping(judge(traffic), start, windows)
    assert [f.kind for f in found] == ["drop"]
    assert found[0].observed.sum() < found[0].expected.sum() * (1 - depth / 2)


def test_it_finds_a_road_closed_to_all_traffic_as_a_drop_not_an_outage(rng):
    traffic = generate(rng, weeks=5)
    start = window(4, WED, 11.0)
    traffic.volume[start:start + 8] = 0  # the camera watches an empty road
    assert [f.kind for f in overlapping(judge(traffic), start, 8)] == ["drop"]


def test_it_finds_an_event_spike(rng):
    traffic = generate(rng, weeks=5)
    start = window(4, THU, 18.0)
    inject_spike(rng, traffic, start, 4, extra=1.5)
    assert [f.kind for f in overlapping(judge(traffic), start, 4)] == ["spike"]


def test_it_finds_a_stuck_count(rng):
    traffic = generate(rng, weeks=5)
    start = window(4, WED, 10.0)
    inject_flatline(traffic, start, 12)
    found = overlapping(judge(traffic), start, 12)
    assert [f.kind for f in found] == ["flatline"]
    assert found[0].first == start


def test_it_reports_an_outage_as_an_outage_and_not_as_a_drop(rng):
    traffic = generate(rng, weeks=5)
    start = window(4, FRI, 14.0)
    inject_outage(traffic, start, 8)
    found = overlapping(judge(traffic), start, 8)
    assert [(f.kind, f.first, f.last) for f in found] == [("outage", start, start + 7)]


def test_it_reports_a_night_outage_even_though_no_traffic_was_expected(rng):
    traffic = generate(rng, weeks=5)
    start = window(4, SUN, 2.0)
    inject_outage(traffic, start, 8)
    assert [f.kind for f in overlapping(judge(traffic), start, 8)] == ["outage"]


def test_it_finds_erratic_counts(rng):
    traffic = generate(rng, weeks=5)
    start = window(4, MON, 10.0)
    factors = np.array([0.2, 2.6, 0.3, 1.0, 2.8, 0.25, 2.4, 1.0, 0.2, 2.5])
    traffic.volume[start:start + 10] = rng.poisson(traffic.rate[start:start + 10] * factors)
    assert [f.kind for f in overlapping(judge(traffic), start, 10)] == ["erratic"]


def test_it_finds_every_injected_anomaly_in_one_week_and_nothing_else(rng):
    traffic = generate(rng, weeks=5)
    incidents = {"drop": (window(4, TUE, 8.0), 6), "spike": (window(4, THU, 18.0), 4),
                 "flatline": (window(4, WED, 10.0), 12), "outage": (window(4, FRI, 14.0), 8)}
    inject_drop(rng, traffic, *incidents["drop"], depth=0.7)
    inject_spike(rng, traffic, *incidents["spike"], extra=1.5)
    inject_flatline(traffic, *incidents["flatline"])
    inject_outage(traffic, *incidents["outage"])
    findings = judge(traffic)
    assert sorted(f.kind for f in findings) == sorted(incidents)
    for kind, (start, windows) in incidents.items():
        assert [f.kind for f in overlapping(findings, start, windows)] == [kind]
