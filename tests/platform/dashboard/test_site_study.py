"""The site page as a traffic study: periods in the site's local days (DST days included),
flow with coverage, the normal band, a compared period, mode share and direction split, AM and
PM peak hours, CSV of what it shows, and 400 pages naming a bad parameter."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.http import QueryDict
from django.urls import reverse

from junction.analytics.rollups import dirty_windows_mark, rollups_recompute
from junction.dashboard import periods
from junction.sites.services import site_add
from tests.platform.analytics.factories import store_buckets, store_speeds
from tests.platform.api.factories import anomaly_add
from tests.platform.staff import counts_add

DUBLIN = ZoneInfo("Europe/Dublin")


@pytest.fixture
def dublin_site(eu_west):
    return site_add(
        slug="dame-and-george",
        region="eu-west",
        name="Dame St & George's St",
        counters={"east-stopline": {"line": [0, 0, 10, 10]}},
        timezone="Europe/Dublin",
    )


def rolled_up(site, start, end):
    rollups_recompute(region=site.region.code, site_id=site.pk, start=start, end=end)


def study_of(client, user, site, **query):
    client.force_login(user)
    answer = client.get(reverse("dashboard:site", args=[site.slug]), query)
    assert answer.status_code == 200, answer.content.decode()[:500]
    return answer


# --- periods ---------------------------------------------------------------------------------

NOW = datetime(2026, 3, 18, 10, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    "query, first, last, granularity",
    [
        ("", date(2026, 3, 18), date(2026, 3, 18), "15m"),
        ("period=yesterday", date(2026, 3, 17), date(2026, 3, 17), "15m"),
        ("period=7d", date(2026, 3, 12), date(2026, 3, 18), "1h"),
        ("period=28d", date(2026, 2, 19), date(2026, 3, 18), "1d"),
        ("period=month", date(2026, 3, 1), date(2026, 3, 18), "1d"),
        ("period=7d&start=2026-01-05&end=2026-01-06", date(2026, 1, 5), date(2026, 1, 6), "15m"),
        ("start=2026-01-05", date(2026, 1, 5), date(2026, 1, 5), "15m"),
        ("period=28d&granularity=1h", date(2026, 2, 19), date(2026, 3, 18), "1h"),
    ],
)
def test_it_reads_a_period_from_the_query_string(query, first, last, granularity):
    span = periods.span_from(QueryDict(query), DUBLIN, NOW)
    assert (span.first, span.last, span.granularity) == (first, last, granularity)


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("period=fortnight", "period"),
        ("start=2026-13-01", "start"),
        ("end=2026-01-01", "start"),
        ("start=2026-02-01&end=2026-01-01", "end"),
        ("start=2025-01-01&end=2026-01-01", "end"),
        ("period=28d&granularity=15m", "granularity"),
        ("granularity=minute", "granularity"),
        ("compare=yesterday", "compare"),
    ],
)
def test_it_names_the_bad_parameter_with_a_400_page(client, eu_analyst, eu_site, query, parameter):
    client.force_login(eu_analyst)
    answer = client.get(f"{reverse('dashboard:site', args=[eu_site.slug])}?{query}")
    assert answer.status_code == 400
    assert f"<code>{parameter}</code>" in answer.content.decode()


@pytest.mark.parametrize(
    "day, quarters, hours",
    [
        ("2026-03-29", 92, 23),  # clocks forward in Dublin
        ("2026-10-25", 100, 25),  # clocks back
        ("2026-06-10", 96, 24),
    ],
)
def test_it_shows_a_dst_day_in_local_time_with_its_real_length(
    client, eu_analyst, dublin_site, day, quarters, hours
):
    answer = study_of(client, eu_analyst, dublin_site, start=day)
    points = answer.context["study"].points
    assert len(points) == quarters
    assert points[0].start == datetime.fromisoformat(day).replace(tzinfo=DUBLIN)
    assert points[-1].end.astimezone(DUBLIN).time().isoformat() == "00:00:00"
    hourly = study_of(client, eu_analyst, dublin_site, start=day, granularity="1h")
    assert len(hourly.context["study"].points) == hours


# --- flow, coverage, normal, compare ----------------------------------------------------------


def test_it_draws_coverage_and_never_an_outage_as_zero(client, eu_analyst, dublin_site):
    day = datetime(2026, 6, 10, tzinfo=DUBLIN)
    eight, nine = day + timedelta(hours=8), day + timedelta(hours=9)
    store_buckets(
        region="eu-west",
        site_id=dublin_site.pk,
        start=eight,
        minutes=60,
        counts={("east-stopline", "in", "car"): 2},
    )
    store_buckets(
        region="eu-west",
        site_id=dublin_site.pk,
        start=nine,
        minutes=20,
        counts={("east-stopline", "in", "car"): 2},
    )
    counts_add(dublin_site, day + timedelta(hours=11), [], uptime=0.0)  # camera dark
    rolled_up(dublin_site, day, day + timedelta(days=1))
    answer = study_of(client, eu_analyst, dublin_site, start="2026-06-10", granularity="1h")
    by_hour = {p.start.hour: p for p in answer.context["study"].points}
    assert (by_hour[8].status, by_hour[8].count) == ("complete", 120)
    assert (by_hour[9].status, by_hour[9].count) == ("partial", 40)
    assert (by_hour[11].status, by_hour[11].count, by_hour[11].coverage) == ("no_data", None, 0)
    assert by_hour[3].count is None and by_hour[3].coverage is None
    chart = answer.context["chart"]
    assert chart["zone"] == "Europe/Dublin" and chart["unit"] == "Road users per hour"
    assert chart["count"][11] is None and chart["count"][8] == 120
    page = answer.content.decode()
    assert 'id="flow-data"' in page and "uPlot.iife.min.js" in page


def test_it_marks_a_window_waiting_for_its_rollup(client, eu_analyst, dublin_site):
    late = datetime(2026, 6, 10, 9, 5, tzinfo=UTC)
    counts_add(dublin_site, late, [("east-stopline", "in", "car", 5)])
    dirty_windows_mark(region="eu-west", site_id=dublin_site.pk, starts=[late])
    answer = study_of(client, eu_analyst, dublin_site, start="2026-06-10", granularity="1h")
    assert sum(p.pending for p in answer.context["study"].points) == 1
    assert answer.content.decode().count("late data being rolled up") == 1


def test_it_gives_the_normal_of_the_same_weekday_and_time_over_four_weeks(
    client, eu_analyst, dublin_site
):
    day = datetime(2026, 6, 10, tzinfo=DUBLIN)  # a Wednesday
    for weeks, per_minute in ((1, 1), (2, 2), (3, 3), (4, 5)):
        hour = day - timedelta(weeks=weeks) + timedelta(hours=8)
        store_buckets(
            region="eu-west",
            site_id=dublin_site.pk,
            start=hour,
            minutes=60,
            seconds=900,
            counts={("east-stopline", "in", "car"): per_minute * 15},
        )
        rolled_up(dublin_site, hour, hour + timedelta(hours=1))
    # A half-watched week would pull the normal down: it is left out.
    half = day - timedelta(weeks=1) + timedelta(hours=9)
    store_buckets(
        region="eu-west",
        site_id=dublin_site.pk,
        start=half,
        minutes=30,
        seconds=900,
        counts={("east-stopline", "in", "car"): 1},
    )
    rolled_up(dublin_site, half, half + timedelta(hours=1))
    answer = study_of(client, eu_analyst, dublin_site, start="2026-06-10", granularity="1h")
    by_hour = {p.start.hour: p for p in answer.context["study"].points}
    normal = by_hour[8].normal
    # Hourly volumes 60, 120, 180, 300: median 150, quartiles 105 and 210.
    assert (normal.low, normal.median, normal.high, normal.weeks) == (105, 150, 210, 4)
    assert by_hour[9].normal is None and by_hour[7].normal is None


def test_it_overlays_a_compared_period_at_the_same_offset(client, eu_analyst, dublin_site):
    other = datetime(2026, 6, 3, 8, tzinfo=DUBLIN)
    store_buckets(
        region="eu-west",
        site_id=dublin_site.pk,
        start=other,
        minutes=60,
        seconds=900,
        counts={("east-stopline", "in", "car"): 7},
    )
    rolled_up(dublin_site, other, other + timedelta(hours=1))
    answer = study_of(
        client, eu_analyst, dublin_site, start="2026-06-10", compare="2026-06-03", granularity="1h"
    )
    by_hour = {p.start.hour: p for p in answer.context["study"].points}
    assert by_hour[8].compared == 28 and by_hour[7].compared is None
    assert answer.context["chart"]["compared"][8] == 28
    assert "Stop comparing" in answer.content.decode()
    plain = study_of(client, eu_analyst, dublin_site, start="2026-06-10")
    assert "compare=2026-06-03" in plain.content.decode()  # week on week, one click


def test_it_shows_mode_share_direction_split_and_am_pm_peaks(client, eu_analyst, dublin_site):
    day = datetime(2026, 6, 10, tzinfo=DUBLIN)
    volumes = [10, 20, 30, 20]

    def morning(moment):
        # One bucket per quarter: 10, 20, 30, 20 -> 80, PHF 80 / 120.
        return {
            ("east-stopline", "in", "car"): volumes[moment.minute // 15],
            ("east-stopline", "out", "bicycle"): 1,
        }

    store_buckets(
        region="eu-west",
        site_id=dublin_site.pk,
        start=day + timedelta(hours=8),
        minutes=60,
        seconds=900,
        counts=morning,
    )
    store_buckets(
        region="eu-west",
        site_id=dublin_site.pk,
        start=day + timedelta(hours=17),
        minutes=60,
        seconds=900,
        counts={("east-stopline", "in", "car"): 5},
    )
    rolled_up(dublin_site, day, day + timedelta(days=1))
    answer = study_of(client, eu_analyst, dublin_site, start="2026-06-10")
    study = answer.context["study"]
    assert [(s.label, s.count) for s in study.modes] == [("bicycle", 4), ("car", 100)]
    assert [(s.label, s.count) for s in study.directions] == [
        ("east-stopline in", 100),
        ("east-stopline out", 4),
    ]
    [peaks] = study.peaks
    assert (peaks.am.start.astimezone(DUBLIN).hour, peaks.am.volume, peaks.am.phf) == (8, 84, 0.677)
    assert (peaks.pm.start.astimezone(DUBLIN).hour, peaks.pm.volume, peaks.pm.phf) == (17, 20, 1.0)
    page = answer.content.decode()
    assert "<td>08:00</td>" in page and "0.677" in page and "<td>17:00</td>" in page


def test_it_maps_the_mean_flow_by_local_weekday_and_hour(client, eu_analyst, dublin_site):
    for monday in (datetime(2026, 6, 8, tzinfo=DUBLIN), datetime(2026, 6, 15, tzinfo=DUBLIN)):
        hour = monday + timedelta(hours=8)
        per_quarter = 10 if monday.day == 8 else 30
        store_buckets(
            region="eu-west",
            site_id=dublin_site.pk,
            start=hour,
            minutes=60,
            seconds=900,
            counts={("east-stopline", "in", "car"): per_quarter},
        )
        rolled_up(dublin_site, hour, hour + timedelta(hours=1))
    answer = study_of(client, eu_analyst, dublin_site, start="2026-06-08", end="2026-06-21")
    monday, tuesday = answer.context["study"].heatmap[:2]
    assert monday.weekday == "Monday" and monday.cells[8].value == 80  # (40 + 120) / 2
    assert monday.cells[8].shade == 9 and monday.cells[7].value is None
    assert all(cell.value is None for cell in tuesday.cells)
    one_day = study_of(client, eu_analyst, dublin_site, start="2026-06-08")
    assert one_day.context["study"].heatmap == []
    rows = list(
        csv.reader(
            io.StringIO(
                study_of(
                    client,
                    eu_analyst,
                    dublin_site,
                    start="2026-06-08",
                    end="2026-06-21",
                    format="csv",
                    table="heatmap",
                ).content.decode()
            )
        )
    )
    assert rows[0][:2] == ["weekday", "00:00"] and rows[1][9] == "80"


def test_it_gives_adt_and_awdt_of_the_complete_days_only(client, eu_analyst, dublin_site):
    # Mon 8 to Sun 14 June 2026: every day watched in full with 96 quarters of N cars, except
    # Wednesday, watched for its first 12 hours only (an outage: unknown, not a quiet day).
    per_quarter = {8: 1, 9: 2, 10: 50, 11: 3, 12: 4, 13: 5, 14: 6}
    for day, n in per_quarter.items():
        start = datetime(2026, 6, day, tzinfo=DUBLIN)
        minutes = 12 * 60 if day == 10 else 24 * 60
        store_buckets(
            region="eu-west",
            site_id=dublin_site.pk,
            start=start,
            minutes=minutes,
            seconds=900,
            counts={("east-stopline", "in", "car"): n},
        )
        rolled_up(dublin_site, start, start + timedelta(days=1))
    answer = study_of(client, eu_analyst, dublin_site, start="2026-06-08", end="2026-06-14")
    daily = answer.context["study"].daily
    # ADT: (1 + 2 + 3 + 4 + 5 + 6) x 96 / 6 days; AWDT: Mon, Tue, Thu, Fri = (1+2+3+4) x 96 / 4.
    assert (daily["adt"].volume, daily["adt"].days) == (336.0, 6)
    assert (daily["awdt"].volume, daily["awdt"].days) == (240.0, 4)
    page = answer.content.decode()
    assert "336 road users a day, over 6 complete days" in page
    one_day = study_of(client, eu_analyst, dublin_site, start="2026-06-08")
    assert one_day.context["study"].daily == {} and 'id="daily"' not in one_day.content.decode()


def test_it_shows_turning_movements_per_quarter_and_speeds(client, eu_analyst, eu_site):
    hour = datetime(2026, 6, 10, 8, tzinfo=UTC)
    buckets = store_buckets(
        region="eu-west",
        site_id=eu_site.pk,
        start=hour,
        minutes=30,
        seconds=900,
        counts={("N>E", None, "car"): 3, ("north-stopline", "in", "car"): 5},
    )
    store_speeds(
        region="eu-west",
        bucket=buckets[0],
        counter="north-stopline",
        road_user="car",
        edges_kmh=[0, 20, 40, 60],
        counts=[0, 10, 0],
    )
    store_speeds(
        region="eu-west",
        bucket=buckets[1],
        counter="north-stopline",
        road_user="car",
        edges_kmh=[0, 20, 40, 60],
        counts=[0, 0, 10],
    )
    rolled_up(eu_site, hour, hour + timedelta(hours=1))
    answer = study_of(client, eu_analyst, eu_site, start="2026-06-10")
    study = answer.context["study"]
    assert study.movements == ["N>E"] and len(study.tmc) == 96
    by_time = {row.start.strftime("%H:%M"): row for row in study.tmc}
    assert by_time["08:00"].counts == [3] and by_time["08:15"].counts == [3]
    assert by_time["09:00"].counts == [None]  # no data, not 0
    # v85: the 17th of 20 vehicles, in the 40-60 bin: 40 + 7/10 x 20.
    assert study.speed.counts == [0, 10, 10] and study.speed.v85 == {hour: 54.0}
    page = answer.content.decode()
    assert 'id="tmc"' in page and 'id="speeds"' in page and "54.0" in page
    hourly = study_of(client, eu_analyst, eu_site, start="2026-06-10", granularity="1h")
    assert hourly.context["study"].tmc == []  # a TMC table is per 15 minutes


# --- CSV ---------------------------------------------------------------------------------------


def test_it_downloads_the_flow_it_shows_as_csv_in_local_time(client, eu_analyst, dublin_site):
    day = datetime(2026, 3, 29, tzinfo=DUBLIN)  # 23 hours
    store_buckets(
        region="eu-west",
        site_id=dublin_site.pk,
        start=day + timedelta(hours=8),
        minutes=30,
        seconds=900,
        counts={("east-stopline", "in", "car"): 3},
    )
    rolled_up(dublin_site, day, day + timedelta(days=1))
    answer = study_of(
        client, eu_analyst, dublin_site, start="2026-03-29", granularity="1h", format="csv"
    )
    assert answer["Content-Type"].startswith("text/csv")
    assert answer["Content-Disposition"] == (
        'attachment; filename="dame-and-george_flow_2026-03-29_2026-03-29_Europe-Dublin.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert len(rows) == 23
    assert rows[0]["start"] == "2026-03-29T00:00:00+00:00"
    assert rows[2]["start"] == "2026-03-29T03:00:00+01:00"  # 01:00 does not exist that day
    eight = rows[7]
    assert (eight["start"], eight["count"], eight["coverage"], eight["status"]) == (
        "2026-03-29T08:00:00+01:00",
        "6",
        "0.5",
        "partial",
    )
    assert rows[5]["count"] == "" and rows[5]["status"] == "no_data"
    peaks = study_of(
        client, eu_analyst, dublin_site, start="2026-03-29", format="csv", table="peaks"
    )
    assert peaks.content.decode().splitlines()[0].startswith("date,am_peak_start,am_volume")


# --- who sees what, and what it costs -------------------------------------------------------


def test_an_analyst_of_one_region_cannot_open_anothers_site_or_anomaly(client, eu_analyst, us_site):
    anomaly = anomaly_add(us_site, kind="outage")
    client.force_login(eu_analyst)
    assert (
        client.get(reverse("dashboard:site", args=[us_site.slug]), {"format": "csv"}).status_code
        == 403
    )
    assert client.get(reverse("dashboard:anomaly", args=["us-east", anomaly.pk])).status_code == 403


def test_it_shows_an_anomalys_detail_with_its_window_in_local_time(
    client, eu_operator, dublin_site
):
    anomaly = anomaly_add(dublin_site, kind="outage")
    client.force_login(eu_operator)
    answer = client.get(reverse("dashboard:anomaly", args=["eu-west", anomaly.pk]))
    page = answer.content.decode()
    start = anomaly.start.astimezone(DUBLIN)
    assert f"{start:%Y-%m-%d %H:%M} to" in page and "(Europe/Dublin)" in page
    assert "estimated to have missed (unmeasured, not 0)" in page and "Acknowledge" in page
    # Drawn as on the site page: its local day, the anomaly as a band.
    assert 'id="flow-data"' in page
    assert answer.context["chart"]["anomalies"][0]["start"] == anomaly.start.timestamp()
    assert answer.context["study"].span.first == start.date()
    site_page = study_of(client, eu_operator, dublin_site, start=f"{start:%Y-%m-%d}")
    assert reverse("dashboard:anomaly", args=["eu-west", anomaly.pk]) in (
        site_page.content.decode()
    )


# control: session, user, site, memberships, devices; region: rollups, their coverage, pending
# marks, the normal's volumes and coverage, quarter volumes and coverage (peaks), anomalies,
# speed histograms, and from a week on the heatmap's hourly volumes and coverage
SITE_CONTROL_QUERIES = 5


@pytest.mark.parametrize("days, region_queries", [(1, 9), (7, 11), (28, 11)])
def test_it_renders_a_site_page_in_a_fixed_number_of_queries(
    client, eu_analyst, dublin_site, django_assert_num_queries, days, region_queries
):
    day = datetime(2026, 6, 10, tzinfo=DUBLIN)
    for i in range(days):
        counts_add(
            dublin_site, day - timedelta(days=i, hours=-8), [("east-stopline", "in", "car", 1)]
        )
    rolled_up(dublin_site, day - timedelta(days=days), day + timedelta(days=1))
    client.force_login(eu_analyst)
    first = (day - timedelta(days=days - 1)).date()
    url = f"{reverse('dashboard:site', args=[dublin_site.slug])}?start={first}&end=2026-06-10"
    with (
        django_assert_num_queries(region_queries, using="region_eu-west"),
        django_assert_num_queries(SITE_CONTROL_QUERIES, using="default"),
    ):
        answer = client.get(url)
    assert answer.context["study"].total == days
