"""A real browser for the dashboard's checks: Debian's Chromium (/usr/bin/chromium) driven by
Playwright's Python package against a live server of this test run. No browser is downloaded.

Skipped on a machine without Chromium or Playwright, failed instead in CI
(JUNCTION_REQUIRE_SERVICES=1), like every other test that needs something outside Python.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import require
from tests.platform.fleet.conftest import (  # noqa: F401  (fixtures: the fleet page's test)
    config_patch,
    eu_device_b,
    eu_repo,
    fleet_keys,
)
from tests.platform.staff import eu_analyst, eu_operator, us_analyst  # noqa: F401  (fixtures)

CHROMIUM = Path(os.environ.get("JUNCTION_CHROMIUM", "/usr/bin/chromium"))
# As root in a sandbox without a network: no sandboxing, and no calls home Chromium would make.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="package", autouse=True)
def _orm_beside_playwright() -> Iterator[None]:
    """Playwright's sync API runs an event loop in the test's thread; the test's own ORM calls
    happen outside it, but Django cannot tell and would refuse them. Set for these tests only:
    a process started by another test must not inherit it (check --deploy refuses it). For the
    package, not per test: the database flush after each live-server test runs after a
    function-scoped fixture's teardown, still beside Playwright's loop."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="package")
def chromium() -> Iterator:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "the playwright package is not installed (pip install playwright)")
    require(CHROMIUM.exists(), f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture
def signed_in(chromium, live_server):
    """A browser context factory: signed in as `user` (or not), CSP enforced unless asked."""
    contexts = []

    def open_as(user=None, *, bypass_csp: bool = False):
        context = chromium.new_context(base_url=live_server.url, bypass_csp=bypass_csp)
        if user is not None:
            client = Client()
            client.force_login(user)
            cookie = client.cookies[settings.SESSION_COOKIE_NAME]
            context.add_cookies(
                [{"name": cookie.key, "value": cookie.value, "url": live_server.url}]
            )
        contexts.append(context)
        return context

    yield open_as
    for context in contexts:
        context.close()
