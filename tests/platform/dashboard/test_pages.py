"""Dashboard pages: login, the user's regions/sites/device health, a site's last 24 hours."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from junction.analytics.rollups import dirty_windows_mark, rollups_recompute
from junction.sites.models import Device
from junction.sites.services import device_revoke
from tests.platform.analytics.factories import store_buckets
from tests.platform.staff import counts_add, staff


@pytest.fixture
def now():
    return timezone.now().replace(second=0, microsecond=0)


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    answer = client.get("/")
    assert answer.status_code == 302
    assert answer["Location"].startswith("/accounts/login/?next=/")


def test_it_logs_staff_in_and_out(client, eu_west):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user(username="ana", password="s3cret-pass")
    answer = client.post("/accounts/login/", {"username": "ana", "password": "s3cret-pass"})
    assert answer.status_code == 302 and answer["Location"] == "/"
    assert client.get("/").status_code == 200
    answer = client.post("/accounts/logout/")
    assert answer["Location"] == "/accounts/login/"
    assert client.get("/").status_code == 302


def test_it_lists_only_the_users_regions_sites_and_devices(client, eu_analyst, eu_device,
                                                          us_device):
    Device.objects.filter(pk=eu_device.device.pk).update(
        last_batch_at=timezone.now() - timedelta(minutes=3), batches_received=42)
    client.force_login(eu_analyst)
    page = client.get("/").content.decode()
    assert "main-and-5th" in page and eu_device.device_id in page
    assert "broadway-and-king" not in page and us_device.device_id not in page
    assert "analyst" in page
    assert "3\xa0minutes ago" in page and ">42<" in page
    assert 'class="state-ok"' in page
    assert eu_device.secret not in page


def test_it_flags_late_never_seen_and_revoked_devices(client, admin_user, eu_device,
                                                      us_device):
    Device.objects.filter(pk=eu_device.device.pk).update(
        last_batch_at=timezone.now() - timedelta(hours=2))
    client.force_login(admin_user)
    page = client.get("/").content.decode()
    assert 'class="state-late"' in page and 'class="state-never"' in page
    device_revoke(device_id=us_device.device_id)
    assert 'class="state-revoked"' in client.get("/").content.decode()


def test_it_tells_a_user_without_regions_what_to_do(client, outsider, eu_site):
    client.force_login(outsider)
    page = client.get("/").content.decode()
    assert "not a member of any region" in page
    assert "main-and-5th" not in page


def rolled_up(site, now):
    """Roll the last day up as the region's worker would after each batch."""
    rollups_recompute(region=site.region.code, site_id=site.pk, start=now - timedelta(days=1),
                      end=now + timedelta(hours=1))


def test_it_shows_a_sites_last_24_hours_per_counter_direction_and_class(client, eu_analyst,
                                                                       eu_site, now):
    counts_add(eu_site, now - timedelta(hours=1), [("north-stopline", "in", "car", 12),
                                                   ("north-stopline", "in", "bus", 2),
                                                   ("north-stopline", "out", "car", 3)])
    counts_add(eu_site, now - timedelta(hours=5), [("N>E", None, "bicycle", 4)])
    counts_add(eu_site, now - timedelta(hours=30), [("N>E", None, "bicycle", 1000)])
    rolled_up(eu_site, now)
    client.force_login(eu_analyst)
    answer = client.get(reverse("dashboard:site", args=[eu_site.slug]))
    assert answer.status_code == 200
    day = answer.context["day"]
    assert day.classes == ["bicycle", "car", "bus"]
    assert [(r["counter"], r["direction"], r["cells"], r["total"]) for r in day.rows] == [
        ("N>E", None, [4, 0, 0], 4),
        ("north-stopline", "in", [0, 12, 2], 14),
        ("north-stopline", "out", [0, 3, 0], 3),
    ]
    assert day.total == 21
    assert len(day.hours) == 24 and sum(h.count or 0 for h in day.hours) == 21
    page = answer.content.decode()
    # One minute delivered of each of two hours: counted, but shaded as partly analysed.
    assert "<svg" in page and page.count('class="partial"') == 2
    assert page.count('class="no-data"') == 22  # hours without a bucket are not zero traffic


def test_it_shades_hours_by_their_rollup_coverage(client, eu_analyst, eu_site, now):
    hour = now.replace(minute=0) - timedelta(hours=3)
    store_buckets(region="eu-west", site_id=eu_site.pk, start=hour, minutes=60,
                  counts={("N>E", None, "car"): 2})
    store_buckets(region="eu-west", site_id=eu_site.pk, start=hour + timedelta(hours=1),
                  minutes=20, counts={("N>E", None, "car"): 2})
    rolled_up(eu_site, now)
    client.force_login(eu_analyst)
    answer = client.get(reverse("dashboard:site", args=[eu_site.slug]))
    by_start = {h.start: h for h in answer.context["day"].hours}
    full, third = by_start[hour], by_start[hour + timedelta(hours=1)]
    assert (full.status, full.count, full.coverage) == ("complete", 120, 1.0)
    assert (third.status, third.count) == ("partial", 40)
    assert third.coverage == pytest.approx(1 / 3)
    page = answer.content.decode()
    assert page.count('class="complete"') == 1 and page.count('class="partial"') == 1
    assert "40 counted, 33% analysed (partial" in page


def test_it_shows_the_days_peak_hour_and_phf(client, eu_analyst, eu_site):
    # Four full quarters on the site's local today: 10, 20, 30, 20 -> 80, PHF 80/120.
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    if hour.date() != now.date():  # just after midnight UTC: use this hour instead
        hour += timedelta(hours=1)
    volumes = [10, 20, 30, 20]

    def counts(moment):
        first = moment.minute % 15 == 0
        return {("N>E", None, "car"): volumes[moment.minute // 15] if first else 0}

    store_buckets(region="eu-west", site_id=eu_site.pk, start=hour, minutes=60, counts=counts)
    rolled_up(eu_site, now)
    client.force_login(eu_analyst)
    answer = client.get(reverse("dashboard:site", args=[eu_site.slug]))
    peak = answer.context["day"].peak
    if hour + timedelta(hours=1) > now:  # the hour is still running: not measured in full
        assert peak is None
        return
    assert (peak.start, peak.volume, peak.phf) == (hour, 80, 0.667)
    page = answer.content.decode()
    assert f'<strong id="peak-hour">{hour:%H:%M}' in page and '<strong id="phf">0.667' in page


def test_it_shows_an_outage_as_no_data_not_as_zero(client, eu_analyst, eu_site, now):
    counts_add(eu_site, now - timedelta(hours=1), [], uptime=0.0)
    rolled_up(eu_site, now)
    client.force_login(eu_analyst)
    answer = client.get(reverse("dashboard:site", args=[eu_site.slug]))
    hours = answer.context["day"].hours
    assert [h.coverage for h in hours if h.coverage is not None] == [0.0]
    assert all(h.count is None for h in hours)
    assert answer.content.decode().count('class="no-data"') == 24


def test_it_flags_an_hour_waiting_for_its_rollup(client, eu_analyst, eu_site, now):
    late = now - timedelta(hours=2)
    counts_add(eu_site, late, [("N>E", None, "car", 5)])
    dirty_windows_mark(region="eu-west", site_id=eu_site.pk, starts=[late])
    client.force_login(eu_analyst)
    page = client.get(reverse("dashboard:site", args=[eu_site.slug])).content.decode()
    assert page.count("late data being rolled up") == 1


def test_it_refuses_a_site_of_another_region_with_the_reason(client, eu_analyst, us_site):
    client.force_login(eu_analyst)
    answer = client.get(reverse("dashboard:site", args=[us_site.slug]))
    assert answer.status_code == 403
    assert "not &#x27;us-east&#x27;" in answer.content.decode()


def test_it_answers_404_for_an_unknown_site(client, eu_analyst):
    client.force_login(eu_analyst)
    assert client.get(reverse("dashboard:site", args=["nowhere"])).status_code == 404


def test_it_sends_a_pinned_node_reader_to_the_sites_region(client, eu_west, us_site):
    user = staff("both", eu_west="analyst", us_east="analyst")
    client.force_login(user)
    with override_settings(SERVED_REGIONS=("eu-west",), JUNCTION_REGION="eu-west"):
        answer = client.get(reverse("dashboard:site", args=[us_site.slug]))
    assert answer.status_code == 421
    assert answer.json()["endpoint"] == "https://us-east.junction.example"


# --- pinned query counts: the pages cost the same however many sites and devices ----------

def _many(region: str, n: int) -> None:
    from junction.sites.services import device_add, site_add

    for i in range(n):
        site_add(slug=f"{region}-site-{i}", region=region, name=f"Site {i}",
                 counters={"a": {"line": [0, 0, 1, 1]}, "b": {"line": [1, 1, 2, 2]}})
        device_add(device_id=f"{region}-dev-{i}", site=f"{region}-site-{i}")


# session, user, memberships, regions, sites (with counter/device counts), devices
HOME_QUERIES = 6


@pytest.mark.parametrize("n", [1, 8])
def test_it_renders_the_home_page_in_a_fixed_number_of_queries(client, eu_analyst,
                                                               django_assert_num_queries, n):
    _many("eu-west", n)
    client.force_login(eu_analyst)
    with django_assert_num_queries(HOME_QUERIES, using="default"):
        answer = client.get("/")
    assert answer.content.decode().count("eu-west-dev-") == n


# control: session, user, site, memberships, devices; region: totals, hourly rollups, their
# coverage, pending marks, quarter-hour volumes and coverage (peak hour), open anomalies
SITE_CONTROL_QUERIES, SITE_REGION_QUERIES = 5, 7


@pytest.mark.parametrize("n", [1, 30])
def test_it_renders_a_site_page_in_a_fixed_number_of_queries(client, eu_analyst, eu_site, now,
                                                             django_assert_num_queries, n):
    for i in range(n):
        counts_add(eu_site, now - timedelta(minutes=i + 1),
                   [("north-stopline", "in", "car", 1), ("N>E", None, "bus", 1)],
                   device_id=f"dev-{i % 3}")
    rolled_up(eu_site, now)
    client.force_login(eu_analyst)
    url = reverse("dashboard:site", args=[eu_site.slug])
    with django_assert_num_queries(SITE_REGION_QUERIES, using="region_eu-west"), \
            django_assert_num_queries(SITE_CONTROL_QUERIES, using="default"):
        answer = client.get(url)
    assert answer.context["day"].total == 2 * n
