"""A region's overview: each site's last 7 local days against its normal, today's total and
coverage, open anomalies; a fixed number of queries however many sites; other regions refused."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from junction.analytics.rollups import rollups_recompute
from junction.sites.services import site_add
from tests.platform.analytics.factories import store_buckets
from tests.platform.api.factories import anomaly_add

DUBLIN = ZoneInfo("Europe/Dublin")


def watched_day(site, day: datetime, per_quarter: int) -> None:
    """A whole local day watched, `per_quarter` cars in each 15-minute bucket."""
    store_buckets(
        region=site.region.code,
        site_id=site.pk,
        start=day,
        minutes=24 * 60,
        seconds=900,
        counts={("a", "in", "car"): per_quarter},
    )
    rollups_recompute(
        region=site.region.code, site_id=site.pk, start=day, end=day + timedelta(days=1)
    )


def dublin_site(slug: str):
    return site_add(
        slug=slug,
        region="eu-west",
        name=slug.title(),
        counters={"a": {"line": [0, 0, 1, 1]}},
        timezone="Europe/Dublin",
    )


def test_it_shows_each_sites_last_week_against_its_normal(client, eu_analyst, eu_west):
    site = dublin_site("quay")
    today = timezone.now().astimezone(DUBLIN).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = (today - timedelta(days=1)).replace(tzinfo=None).replace(tzinfo=DUBLIN)
    watched_day(site, yesterday, 1)  # 96
    for weeks, per_quarter in ((1, 2), (2, 3), (3, 4)):
        day = (yesterday.replace(tzinfo=None) - timedelta(weeks=weeks)).replace(tzinfo=DUBLIN)
        watched_day(site, day, per_quarter)
    anomaly_add(site, kind="drop")
    client.force_login(eu_analyst)
    answer = client.get(reverse("dashboard:region", args=["eu-west"]))
    [(card, spark)] = answer.context["cards"]
    assert [d.day for d in card.days][-1] == today.date() and len(card.days) == 7
    before = card.days[-2]
    assert (before.count, before.status) == (96, "complete")
    assert (before.normal.median, before.normal.weeks) == (288, 3)
    assert card.days[0].count is None and card.open_anomalies == 1
    assert len(spark.gaps) >= 5 and spark.band
    page = answer.content.decode()
    assert "96, normal 288" in page and reverse("dashboard:site", args=["quay"]) in page
    assert "96, normal 288" in client.get("/").content.decode()  # the home page's overview


def test_it_refuses_another_regions_overview(client, eu_analyst, us_east):
    client.force_login(eu_analyst)
    assert client.get(reverse("dashboard:region", args=["us-east"])).status_code == 403


# control: session, user, region, memberships, sites; region: daily rollups, their coverage,
# open anomalies per site
REGION_CONTROL_QUERIES, REGION_REGION_QUERIES = 5, 3


@pytest.mark.parametrize("n", [1, 8])
def test_it_renders_the_overview_in_a_fixed_number_of_queries(
    client, eu_analyst, eu_west, n, django_assert_num_queries
):
    for i in range(n):
        dublin_site(f"site-{i}")
    client.force_login(eu_analyst)
    with (
        django_assert_num_queries(REGION_REGION_QUERIES, using="region_eu-west"),
        django_assert_num_queries(REGION_CONTROL_QUERIES, using="default"),
    ):
        answer = client.get(reverse("dashboard:region", args=["eu-west"]))
    assert len(answer.context["cards"]) == n


def test_it_sends_a_pinned_node_reader_to_the_regions_node(client, eu_west, us_site):
    from django.test import override_settings

    from tests.platform.staff import staff

    client.force_login(staff("both", eu_west="analyst", us_east="analyst"))
    dublin_site("quay")
    with override_settings(SERVED_REGIONS=("eu-west",), JUNCTION_REGION="eu-west"):
        assert client.get(reverse("dashboard:region", args=["eu-west"])).status_code == 200
        answer = client.get(reverse("dashboard:region", args=["us-east"]))
    assert answer.status_code == 421
    assert answer.json()["endpoint"] == "https://us-east.junction.example"


def test_the_overview_places_its_sites_on_an_offline_map(client, eu_analyst, eu_west):
    # Two Dublin junctions about 1.2 km apart, east-west; a third site has no coordinates.
    site_add(slug="quay", region="eu-west", name="Quay", latitude=53.3460, longitude=-6.2700)
    site_add(slug="pearse", region="eu-west", name="Pearse", latitude=53.3440, longitude=-6.2520)
    site_add(slug="unplaced", region="eu-west", name="Unplaced")
    client.force_login(eu_analyst)
    answer = client.get(reverse("dashboard:region", args=["eu-west"]))
    site_map = answer.context["map"]
    at = {point.site.slug: (point.x, point.y) for point in site_map.sites}
    assert set(at) == {"quay", "pearse"}
    assert [s.slug for s in site_map.unplaced] == ["unplaced"]
    # East is right and north is up, and both lie inside the drawing.
    assert at["pearse"][0] > at["quay"][0] and at["quay"][1] < at["pearse"][1]
    assert all(0 < x < site_map.width and 0 < y < site_map.height for x, y in at.values())
    # Not stretched: 0.018 degrees of longitude at 53.345 N are 1.20 km and 0.002 degrees of
    # latitude 0.22 km, so the drawn distances keep that ratio (Mercator is conformal).
    dx, dy = at["pearse"][0] - at["quay"][0], at["pearse"][1] - at["quay"][1]
    assert dx / dy == pytest.approx(1.2007 / 0.2224, rel=0.01)
    page = answer.content.decode()
    assert "Map of 2 site(s): " in page and "Quay at 53.3460, -6.2700" in page  # text alternative
    assert (
        reverse("dashboard:site", args=["quay"]) in page
        and "http" not in page.split('class="site-map"')[1].split("</figure>")[0]
    )  # no tile or other remote resource


def test_an_overview_of_sites_without_coordinates_draws_no_map(client, eu_analyst, eu_west):
    dublin_site("quay")
    client.force_login(eu_analyst)
    answer = client.get(reverse("dashboard:region", args=["eu-west"]))
    assert answer.context["map"] is None and 'class="site-map"' not in answer.content.decode()


def test_an_operators_tile_server_lies_under_the_map_and_only_it_is_allowed(
    client, eu_analyst, eu_west, settings
):
    settings.MAP_TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"
    settings.MAP_TILE_ATTRIBUTION = "© Example Maps contributors"
    site_add(slug="quay", region="eu-west", name="Quay", latitude=53.3460, longitude=-6.2700)
    client.force_login(eu_analyst)
    answer = client.get(reverse("dashboard:region", args=["eu-west"]))
    page = answer.content.decode()
    hrefs = re.findall(r'<image href="https://tiles\.example\.org/(\d+)/(\d+)/(\d+)\.png"', page)
    assert hrefs and "© Example Maps contributors" in page
    # The tile holding the site, by the slippy-map formula of the tile servers themselves.
    zoom = int(hrefs[0][0])
    n = 2**zoom
    lat = math.radians(53.3460)
    tile = (
        str(zoom),
        str(int((-6.2700 + 180) / 360 * n)),
        str(int((1 - math.asinh(math.tan(lat)) / math.pi) / 2 * n)),
    )
    assert tile in hrefs
    policy = answer["Content-Security-Policy"]
    assert "img-src 'self' data: https://tiles.example.org" in policy
    assert "tiles.example.org" not in client.get("/").get("Content-Security-Policy", "")
