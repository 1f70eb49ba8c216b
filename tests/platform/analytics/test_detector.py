"""Detection on generated traffic (daily and weekly profiles, Poisson noise, fixed seed):
injected incidents, events, stuck counts and outages are found and told apart; quiet nights
and ordinary days are not flagged."""

from __future__ import annotations

import numpy as np
import pytest

from junction.analytics.detector import Calendar, Finding, Judgement, detect
from junction.analytics.detector import judge as judge_series
from tests.platform.analytics.traffic import (
    WINDOWS_PER_WEEK,
    generate,
    inject_drop,
    inject_flatline,
    inject_outage,
    inject_spike,
    window,
)

JUDGED = slice(4 * WINDOWS_PER_WEEK, 5 * WINDOWS_PER_WEEK)
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def judge(traffic) -> list[Finding]:
    """Findings of the fifth week; the four before it only teach the baseline."""
    findings = detect(traffic.volume, traffic.coverage, Calendar.regular(traffic.volume.size))
    return [f for f in findings if f.last >= JUDGED.start]


def judge_all(traffic) -> Judgement:
    return judge_series(traffic.volume, traffic.coverage, Calendar.regular(traffic.volume.size))


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
    traffic.volume[start : start + 8] = 0  # the camera watches an empty road
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
    traffic.volume[start : start + 10] = rng.poisson(traffic.rate[start : start + 10] * factors)
    assert [f.kind for f in overlapping(judge(traffic), start, 10)] == ["erratic"]


def test_it_finds_every_injected_anomaly_in_one_week_and_nothing_else(rng):
    traffic = generate(rng, weeks=5)
    incidents = {
        "drop": (window(4, TUE, 8.0), 6),
        "spike": (window(4, THU, 18.0), 4),
        "flatline": (window(4, WED, 10.0), 12),
        "outage": (window(4, FRI, 14.0), 8),
    }
    inject_drop(rng, traffic, *incidents["drop"], depth=0.7)
    inject_spike(rng, traffic, *incidents["spike"], extra=1.5)
    inject_flatline(traffic, *incidents["flatline"])
    inject_outage(traffic, *incidents["outage"])
    findings = judge(traffic)
    assert sorted(f.kind for f in findings) == sorted(incidents)
    for kind, (start, windows) in incidents.items():
        assert [f.kind for f in overlapping(findings, start, windows)] == [kind]


def test_it_finds_a_long_closure_on_a_quiet_road_that_no_single_window_shows(rng):
    # About ten vehicles a quarter hour on a Saturday morning, 87% down for five hours: each
    # window alone is a few cars short; together they are unmistakable.
    traffic = generate(rng, weeks=5, peak_per_window=20.0)
    start = window(4, SAT, 9.0)
    assert 6 < traffic.rate[start : start + 20].mean() < 14
    inject_drop(rng, traffic, start, 20, depth=0.87)
    found = overlapping(judge(traffic), start, 20)
    assert [f.kind for f in found] == ["drop"]
    assert found[0].last - found[0].first >= 12


def test_it_does_not_flag_one_noisy_window_on_a_busy_road(rng):
    traffic = generate(rng, weeks=5)
    dip = window(4, TUE, 8.0)
    expected = traffic.rate[dip]
    traffic.volume[dip] = round(expected - 4.5 * np.sqrt(expected))  # a 4.5 sigma Poisson dip
    assert overlapping(judge(traffic), dip, 1) == []


def test_it_judges_every_window_with_history_in_one_run_over_six_weeks(rng):
    traffic = generate(rng, weeks=6)
    drops = [window(4, TUE, 8.0), window(5, THU, 17.0)]
    for start in drops:
        inject_drop(rng, traffic, start, 6, depth=0.6)
    judgement = judge_all(traffic)
    assert sorted(f.first for f in judgement.findings if f.kind == "drop") == drops
    # Three past weeks are needed: the first three weeks are told as not judged, not as normal.
    assert judgement.skipped["history"][: 3 * WINDOWS_PER_WEEK].all()
    assert judgement.judged[3 * WINDOWS_PER_WEEK :].all()


def test_it_compares_a_public_holiday_with_sundays_not_with_its_weekday(rng):
    traffic = generate(rng, weeks=5)
    thursday = window(4, THU, 0.0)
    sunday = window(4, SUN, 0.0)
    day = slice(thursday, thursday + 96)
    traffic.volume[day] = rng.poisson(traffic.rate[sunday : sunday + 96])  # Sunday traffic
    holidays = np.zeros(traffic.volume.size, dtype=bool)
    holidays[day] = True
    index = np.arange(traffic.volume.size)
    as_holiday = Calendar(
        week=index // WINDOWS_PER_WEEK,
        slot=np.where(holidays, 6 * 96 + index % 96, index % WINDOWS_PER_WEEK),
        holiday=holidays,
    )
    findings = detect(traffic.volume, traffic.coverage, as_holiday)
    assert overlapping(findings, thursday, 96) == []
    # The same day without its holiday is a day-long drop: the calendar is what saves it.
    assert "drop" in {f.kind for f in overlapping(judge(traffic), thursday, 96)}


def test_the_calendar_puts_a_holiday_on_sundays_slots_in_local_time():
    from datetime import UTC, date, datetime, timedelta
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    starts = [
        datetime(2026, 12, 24, 23, tzinfo=UTC) + i * timedelta(minutes=15) for i in range(8)
    ]  # 00:00-02:00 on Christmas Day in Paris
    calendar = Calendar.of(starts, paris, holidays={date(2026, 12, 25)})
    assert calendar.holiday.all()
    assert list(calendar.slot) == [6 * 96 + q for q in range(8)]
    assert len(set(calendar.week)) == 1
