"""Personas and helpers for platform tests: two regions, a site and a device in each, users."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.conf import settings

from junction.residency.planes import region_alias
from junction.sites import services as site_services
from junction.sites.models import Device, Site

# Every test may touch the control plane and every region's database.
ALL_DATABASES = "__all__"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/platform" in str(item.fspath):
            item.add_marker(pytest.mark.django_db(databases=ALL_DATABASES))


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix, tmp_path_factory
) -> None:
    """SQLite test databases as files of this run, not shared in-memory ones.

    With in-memory databases a live server hands every request thread the test's own
    connection, so "concurrent" requests would interleave on one transaction; as files each
    thread has its own connection, and WAL plus the busy timeout queue writers as in the demo.
    The files live in this run's pytest temp dir, so two runs never share one.
    """
    folder = None
    for alias, config in settings.DATABASES.items():
        if config["ENGINE"] == "django.db.backends.sqlite3":
            test = config.setdefault("TEST", {})
            if not test.get("NAME"):
                folder = folder or tmp_path_factory.mktemp("sqlite")
                test["NAME"] = str(folder / f"{alias}.sqlite3")


@dataclass(frozen=True)
class DevicePersona:
    device: Device
    secret: str
    site: Site

    @property
    def device_id(self) -> str:
        return self.device.device_id

    @property
    def region(self) -> str:
        return self.site.region.code


@pytest.fixture
def clean_cache():
    """Seen signatures and batch locks live in the shared cache (Redis in the PostgreSQL pass),
    which outlives a test's database rollback: tests that send batches start and end clean."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def eu_west(db):
    return site_services.region_add(
        code="eu-west", name="Europe West", endpoint="https://eu-west.junction.example"
    )


@pytest.fixture
def us_east(db):
    return site_services.region_add(
        code="us-east", name="US East", endpoint="https://us-east.junction.example"
    )


@pytest.fixture
def eu_site(eu_west):
    return site_services.site_add(
        slug="main-and-5th",
        region="eu-west",
        name="Main St & 5th Ave",
        counters={
            "north-stopline": {"line": [100, 200, 500, 200]},
            "N>E": {"entry": "north", "exit": "east"},
        },
    )


@pytest.fixture
def us_site(us_east):
    return site_services.site_add(
        slug="broadway-and-king",
        region="us-east",
        name="Broadway & King",
        counters={"south-stopline": {"line": [0, 100, 400, 100]}},
    )


@pytest.fixture
def eu_device(eu_site) -> DevicePersona:
    issued = site_services.device_add(device_id="dev-main-5th-n", site=eu_site.slug)
    return DevicePersona(issued.device, issued.secret, eu_site)


@pytest.fixture
def us_device(us_site) -> DevicePersona:
    issued = site_services.device_add(device_id="dev-broadway-king-s", site=us_site.slug)
    return DevicePersona(issued.device, issued.secret, us_site)


def region_databases() -> list[str]:
    return [region_alias(code) for code in settings.SERVED_REGIONS]


@pytest.fixture(autouse=True)
def _fresh_request_counts():
    """Every test starts with no API calls counted: user ids repeat from test to test."""
    from django.core.cache import caches

    caches["throttle"].clear()
