"""A region whose database cannot be reached answers 503 with Retry-After, naming the region
(JSON on the API, a page on the dashboard), while the other regions keep serving."""

from __future__ import annotations

import copy
import socket

import pytest
from django.db import connections
from django.db.utils import load_backend
from django.urls import reverse
from rest_framework.test import APIClient

from junction.residency.planes import region_alias
from tests.platform.api.factories import anomaly_add


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def us_east_down(us_site, tmp_path):
    """us-east's database alias pointed at a database that cannot be reached: a SQLite file in
    a folder that does not exist, or a PostgreSQL port nothing listens on."""
    alias = region_alias("us-east")
    working = connections[alias]
    config = copy.deepcopy(working.settings_dict)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["NAME"] = str(tmp_path / "missing-folder" / "region-us-east.sqlite3")
    else:
        config.update(HOST="127.0.0.1", PORT=str(closed_port()))
        config["OPTIONS"] = {**config.get("OPTIONS", {}), "connect_timeout": 3}
    broken = load_backend(config["ENGINE"]).DatabaseWrapper(config, alias)
    connections[alias] = broken
    yield
    broken.close()
    connections[alias] = working


@pytest.fixture
def findings(eu_site, us_site):
    return anomaly_add(eu_site), anomaly_add(us_site)


@pytest.fixture
def api():
    return APIClient()


def test_it_answers_api_reads_of_the_unreachable_region_with_503(
    api, eu_analyst, us_analyst, eu_site, findings, us_east_down
):
    api.force_authenticate(us_analyst)
    for url in (
        reverse("api:site-counts", kwargs={"slug": "broadway-and-king"}),
        reverse("api:site-rollups", kwargs={"slug": "broadway-and-king"}),
        reverse("api:region-anomalies", kwargs={"code": "us-east"}),
    ):
        answer = api.get(url)
        assert answer.status_code == 503, (url, answer.content)
        assert answer["Retry-After"] == "30"
        body = answer.json()
        assert (body["error"], body["region"]) == ("region_unavailable", "us-east")
        assert "us-east" in body["detail"]

    api.force_authenticate(eu_analyst)
    assert api.get(reverse("api:site-counts", kwargs={"slug": "main-and-5th"})).status_code == 200
    assert api.get(reverse("api:region-anomalies", kwargs={"code": "eu-west"})).json()["count"] == 1


def test_it_answers_dashboard_pages_of_the_unreachable_region_with_a_503_page(
    client, eu_analyst, us_analyst, eu_site, findings, us_east_down
):
    client.force_login(us_analyst)
    for url in (
        reverse("dashboard:site", args=["broadway-and-king"]),
        reverse("dashboard:region-anomalies", args=["us-east"]),
    ):
        answer = client.get(url)
        assert answer.status_code == 503, url
        assert answer["Retry-After"] == "30"
        page = answer.content.decode()
        assert "us-east" in page and "<html" in page
    home = client.get(reverse("dashboard:home"))  # lists the region, says its data is away
    assert home.status_code == 200
    assert "region us-east cannot be reached just now" in home.content.decode()

    client.force_login(eu_analyst)
    assert client.get(reverse("dashboard:site", args=["main-and-5th"])).status_code == 200
    assert client.get(reverse("dashboard:region-anomalies", args=["eu-west"])).status_code == 200
