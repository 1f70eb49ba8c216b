"""The edge uplink against the real platform ingest endpoint (a live Django server): the bodies
the edge builds pass the platform's strict schema and policy, a resend after a lost answer is
acknowledged with 200 and stored once, and the platform's 422 reason lands in the dead letters.

Skipped where Django is not installed (an edge-only install has no platform)."""

from __future__ import annotations

import time

import pytest
import requests

from edge_worker.buckets import Bucket
from edge_worker.spool import BatchIdentity, Spool
from edge_worker.uplink import Backoff, Uplink

pytest.importorskip("django")
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

SITE, DEVICE = "main-and-5th", "dev-main-5th-n"


@pytest.fixture
def device_secret() -> str:
    from junction.sites import services as site_services
    from junction.sites.models import CounterKind

    site_services.region_add(
        code="eu-west", name="Europe West", endpoint="https://eu-west.junction.example"
    )
    site = site_services.site_add(
        slug=SITE,
        region="eu-west",
        name="Main St & 5th Ave",
        counters={"north-stopline": {"line": [150, 200, 600, 200]}},
    )
    site_services.counter_add(site=site, name="crosswalk-north", kind=CounterKind.ZONE)
    return site_services.device_add(device_id=DEVICE, site=SITE).secret


def recent_minutes(n: int) -> list[int]:
    now = int(time.time())
    return [now - now % 60 - 60 * (n + 1 - i) for i in range(n)]


def edge_bucket(start: int, counter: str = "north-stopline") -> Bucket:
    return Bucket(
        start=start,
        seconds=60,
        uptime=0.98,
        counts=((counter, "in", "car", 12), (counter, "out", "bus", 1)),
        speeds=((counter, "car", (0, 1, 4, 6, 1, 0, 0, 0)),),
        occupancy=(("crosswalk-north", "person", 0.4, 3),),
        dwell=(("crosswalk-north", "person", (2, 1, 0, 0, 0, 0, 0)),),
    )


class LosesFirstAnswer(requests.Session):
    """The first answer never reaches the worker, as when the link drops right after sending."""

    lost = False

    def post(self, *args, **kwargs):
        response = super().post(*args, **kwargs)
        if not self.lost:
            self.lost = True
            raise requests.ConnectionError("connection reset before the answer arrived")
        return response


def uplink_for(spool, url, secret, session=None) -> Uplink:
    return Uplink(
        spool=spool,
        identity=BatchIdentity(DEVICE, SITE, "eu-west", "yolox_nano", "ab" * 32),
        cameras=["north"],
        endpoint=url,
        allowed_endpoints=[],
        secret=lambda: secret,
        session=session,
        backoff=Backoff(base_s=0.1, cap_s=0.1),
    )


def stored_buckets() -> int:
    from junction.traffic.models import CountBucket

    return CountBucket.objects.in_region("eu-west").count()


def test_the_platform_stores_what_the_edge_sends_once_even_after_a_lost_answer(
    live_server, device_secret, tmp_path
):
    spool = Spool(tmp_path / "spool.db", max_bytes=10**7)
    spool.put("north", [edge_bucket(start) for start in recent_minutes(3)])
    uplink = uplink_for(spool, live_server.url, device_secret, LosesFirstAnswer())
    assert uplink.send_next() > 0  # stored by the platform, but the worker did not hear it
    assert spool.stats().unsent_buckets == 3
    assert uplink.send_next() == 0.0
    assert uplink.status.last_status == 200  # the same batch again: already stored
    assert spool.stats().unsent_buckets == 0
    assert stored_buckets() == 3
    spool.close()


def test_the_platforms_422_reason_lands_in_the_dead_letters(live_server, device_secret, tmp_path):
    spool = Spool(tmp_path / "spool.db", max_bytes=10**7)
    spool.put("north", [edge_bucket(recent_minutes(1)[0], counter="no-such-counter")])
    uplink = uplink_for(spool, live_server.url, device_secret)
    assert uplink.send_next() == 0.0
    stats = spool.stats()
    assert (stats.dead_letters, stats.unsent_buckets) == (1, 0)
    assert "no-such-counter" in stats.last_dead_letter_reason
    assert stored_buckets() == 0
    spool.close()
