"""Ingest test fixtures: the example's zone on the EU site, and a clean replay/lock store."""

from __future__ import annotations

import pytest

from junction.sites import services as site_services
from junction.sites.models import CounterKind


@pytest.fixture(autouse=True)
def _clean_cache(clean_cache):
    return None


@pytest.fixture
def eu_device(eu_device):
    site_services.counter_add(site=eu_device.site, name="crosswalk-north", kind=CounterKind.ZONE)
    return eu_device


@pytest.fixture
def us_device(us_device):
    # The example batch's counters, so the same body is valid for a US device too.
    for name in ("north-stopline", "N>E"):
        site_services.counter_add(site=us_device.site, name=name)
    site_services.counter_add(site=us_device.site, name="crosswalk-north", kind=CounterKind.ZONE)
    return us_device
