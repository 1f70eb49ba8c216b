"""In a real browser: the site page as an analyst and as an operator uses it. A period change
updates the chart and the URL, a DST day has its 23 hours, an outage is a gap over a grey band
(never zero), the CSV carries the API's numbers, a 390 px phone needs no sideways scrolling,
axe-core finds nothing serious, and an analyst of one region cannot open another's pages."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from junction.analytics.rollups import rollups_recompute
from junction.sites.services import site_add
from tests.platform.analytics.factories import store_buckets, store_speeds
from tests.platform.api.factories import anomaly_add
from tests.platform.browser.test_policy_and_access import axe_violations
from tests.platform.staff import counts_add

DUBLIN = ZoneInfo("Europe/Dublin")
DST_DAY = datetime(2026, 3, 29, tzinfo=DUBLIN)  # clocks go forward at 01:00: 23 hours
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def study(eu_west, eu_operator, eu_analyst):
    site = site_add(
        slug="dame-and-george",
        region="eu-west",
        name="Dame St & George's St",
        counters={
            "east-stopline": {"line": [0, 0, 10, 10]},
            "N>E": {"entry": "north", "exit": "east"},
        },
        timezone="Europe/Dublin",
    )

    def flow(moment):
        return {
            ("east-stopline", "in", "car"): 2 + moment.hour % 5,
            ("east-stopline", "out", "bicycle"): 1,
            ("N>E", None, "car"): 1,
        }

    # 06:00 to 13:00 local watched in full, then the camera goes dark for 13:00-14:00.
    buckets = store_buckets(
        region="eu-west",
        site_id=site.pk,
        start=DST_DAY + timedelta(hours=6),
        minutes=7 * 60,
        seconds=300,
        counts=flow,
    )
    store_speeds(
        region="eu-west",
        bucket=buckets[0],
        counter="east-stopline",
        road_user="car",
        edges_kmh=[0, 20, 40, 60],
        counts=[1, 10, 3],
    )
    counts_add(site, DST_DAY + timedelta(hours=13), [], seconds=3600, uptime=0.0)
    rollups_recompute(
        region="eu-west", site_id=site.pk, start=DST_DAY, end=DST_DAY + timedelta(days=1)
    )
    anomaly = anomaly_add(site, kind="outage")
    return {
        "site": site,
        "anomaly": anomaly,
        "operator": eu_operator,
        "analyst": eu_analyst,
        "day": f"/sites/{site.slug}/?start=2026-03-29&granularity=1h",
    }


def chart_windows(page) -> int:
    page.wait_for_function("window.junctionFlow !== undefined")
    return page.evaluate("window.junctionFlow.data[0].length - 1")  # the last x closes a step


@pytest.mark.parametrize("who", ["analyst", "operator"])
def test_a_period_change_updates_the_chart_and_the_url(signed_in, study, who):
    page = signed_in(study[who]).new_page()
    page.goto(f"/sites/{study['site'].slug}/", wait_until="networkidle")
    assert chart_windows(page) in (92, 96, 100)  # today in 15-minute windows
    page.get_by_role("link", name="Last 7 days").click()
    page.wait_for_load_state("networkidle")
    assert "period=7d" in page.url
    assert chart_windows(page) in range(7 * 24 - 1, 7 * 24 + 2)
    page.get_by_role("textbox", name="From").fill("2026-03-28")
    page.get_by_role("textbox", name="To", exact=True).fill("2026-03-29")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state("networkidle")
    assert "start=2026-03-28" in page.url and "end=2026-03-29" in page.url
    assert chart_windows(page) == 24 * 4 + 23 * 4
    page.get_by_role("link", name="Compare with the week before").click()
    page.wait_for_load_state("networkidle")
    assert "compare=2026-03-21" in page.url
    assert page.evaluate("window.junctionFlow.series.map(s => s.label)")[-1] == ("Compared period")


def test_a_dst_day_has_23_local_hours_and_an_outage_is_not_zero(signed_in, study):
    page = signed_in(study["analyst"]).new_page()
    page.goto(study["day"], wait_until="networkidle")
    assert chart_windows(page) == 23
    page.get_by_text("The flow as a table").click()
    starts = page.locator("#flow-table tbody tr td:first-child").all_inner_texts()
    assert starts[:3] == ["Sun 29 Mar 00:00", "Sun 29 Mar 02:00", "Sun 29 Mar 03:00"]
    counts = page.evaluate("window.junctionFlow.data[4]")
    statuses = page.evaluate("JSON.parse(document.getElementById('flow-data').textContent).status")
    outage = starts.index("Sun 29 Mar 13:00")
    assert statuses[outage] == "no_data" and counts[outage] is None
    assert counts[starts.index("Sun 29 Mar 12:00")] > 0
    row = page.locator("#flow-table tbody tr").nth(outage).inner_text()
    assert "no data" in row
    # The grey band is drawn under the gap: the chart's canvas is grey there, not empty.
    assert page.locator("#flow-chart canvas").count() == 1


def test_the_csv_carries_the_apis_numbers(signed_in, study):
    context = signed_in(study["analyst"])
    page = context.new_page()
    page.goto(study["day"], wait_until="networkidle")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the flow as CSV").click()
    assert download.value.suggested_filename == (
        "dame-and-george_flow_2026-03-29_2026-03-29_Europe-Dublin.csv"
    )
    rows = list(csv.DictReader(io.StringIO(open(download.value.path()).read())))
    start, end = DST_DAY.isoformat(), (DST_DAY + timedelta(days=1)).isoformat()
    api = context.request.get(
        f"/api/v1/sites/{study['site'].slug}/rollups",
        params={"period": "1h", "start": start, "end": end},
    ).json()
    from_api = {datetime.fromisoformat(w["start"]): w for w in api["results"]}
    assert len(rows) == len(from_api) == 23
    for row in rows:
        window = from_api[datetime.fromisoformat(row["start"])]
        assert (row["count"] or None) == (
            None if window["count"] is None else str(window["count"])
        ), row
        assert row["status"] == window["status"], row
    assert (
        sum(int(r["count"] or 0) for r in rows)
        == sum(w["count"] or 0 for w in from_api.values())
        > 0
    )


def test_a_phone_needs_no_sideways_scrolling_and_axe_finds_nothing_serious(signed_in, study):
    anomaly = study["anomaly"]
    pages = [
        study["day"],
        f"/sites/{study['site'].slug}/?period=28d",
        f"/sites/{study['site'].slug}/?start=2026-03-29",
        f"/regions/eu-west/anomalies/{anomaly.pk}/",
        "/regions/eu-west/anomalies/",
        "/",
        "/regions/eu-west/",
    ]
    context = signed_in(study["operator"], bypass_csp=True)
    found = {}
    for viewport in (PHONE, {"width": 1280, "height": 900}):
        page = context.new_page()
        page.set_viewport_size(viewport)
        for path in pages:
            page.goto(path, wait_until="networkidle")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], (path, viewport, width)
            violations = axe_violations(page)
            if violations:
                found[(path, viewport["width"])] = violations
    assert found == {}


def test_the_operator_can_triage_from_the_anomaly_page_by_keyboard(signed_in, study):
    page = signed_in(study["operator"]).new_page()
    page.goto(f"/regions/eu-west/anomalies/{study['anomaly'].pk}/", wait_until="networkidle")
    button = page.get_by_role("button", name="Acknowledge")
    button.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "acknowledged by" in page.locator("dl.facts").inner_text()


def test_an_analyst_of_one_region_cannot_open_anothers_pages(signed_in, study, us_analyst):
    page = signed_in(us_analyst).new_page()
    for path in (
        study["day"],
        f"/regions/eu-west/anomalies/{study['anomaly'].pk}/",
        "/regions/eu-west/",
        f"{study['day']}&format=csv",
    ):
        answer = page.goto(path)
        assert answer is not None and answer.status == 403, path
