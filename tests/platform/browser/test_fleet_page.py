"""In a real browser: a region's fleet page with a halted rollout and a rolled-back device
breaks no Content-Security-Policy rule, needs no sideways scrolling on a 390 px phone, and
axe-core finds nothing serious on it, as on the other dashboard pages."""

from __future__ import annotations

import pytest

from tests.platform.browser.test_policy_and_access import axe_violations, violations_on
from tests.platform.browser.test_site_study import PHONE
from tests.platform.fleet.conftest import checkin, command_json, publish

FLEET = "/regions/eu-west/fleet/"


@pytest.fixture
def halted(client, eu_repo, config_patch, eu_device, eu_device_b, clean_cache):
    publish("v2", config=config_patch)
    devices = f"{eu_device.device_id},{eu_device_b.device_id}"
    command_json("rollout_start", "v2", "--region", "eu-west", "--devices", devices)
    checkin(
        client,
        eu_device,
        state="rolled_back",
        release="v2",
        reason="health gate: analysed fps 2.1 below the floor of 5 for 60 s",
    )


def test_the_fleet_page_fits_a_phone_keeps_its_policy_and_passes_axe(signed_in, halted, eu_analyst):
    page = signed_in(eu_analyst).new_page()
    assert violations_on(page, FLEET) == []
    assert page.locator("td.state-rolled_back").inner_text() == "rolled_back"
    checked = signed_in(eu_analyst, bypass_csp=True)
    found = {}
    for viewport in (PHONE, {"width": 1280, "height": 900}):
        page = checked.new_page()
        page.set_viewport_size(viewport)
        page.goto(FLEET, wait_until="networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], (viewport, width)
        violations = axe_violations(page)
        if violations:
            found[viewport["width"]] = violations
    assert found == {}
