"""In a real browser: every dashboard page and the API reference load without one Content-
Security-Policy violation, and axe-core finds no serious or critical accessibility violation
on the dashboard's pages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.platform.api.factories import anomaly_add
from tests.platform.staff import counts_add

AXE = Path(__file__).resolve().parents[2] / "browser" / "vendor" / "axe.min.js"
# Collected before any page script runs (injected by the browser, so the policy allows it).
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e =>
    window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));
"""


@pytest.fixture
def dashboard(eu_site, eu_operator):
    counts_add(
        eu_site, datetime(2026, 11, 24, 7, tzinfo=UTC), [("north-stopline", "in", "car", 12)]
    )
    anomaly_add(eu_site, kind="outage", device_id="dev-main-5th-n", hours_ago=3)
    return {
        "user": eu_operator,
        "pages": ["/", f"/sites/{eu_site.slug}/", "/regions/eu-west/anomalies/", "/api-tokens/"],
    }


def violations_on(page, path: str) -> list[str]:
    page.add_init_script(WATCH_VIOLATIONS)
    answer = page.goto(path, wait_until="networkidle")
    assert answer is not None and answer.status == 200, path
    return page.evaluate("window.__cspViolations")


def test_no_page_breaks_its_content_security_policy(signed_in, dashboard):
    page = signed_in(dashboard["user"]).new_page()
    for path in dashboard["pages"]:
        assert violations_on(page, path) == [], path
    anonymous = signed_in().new_page()
    for path in ("/accounts/login/", "/api/docs/"):
        assert violations_on(anonymous, path) == [], path
    # Redoc's menu links its maker's logo on their CDN: the policy keeps the browser from
    # fetching it (no request leaves for another host), and that is the only thing it stops.
    assert set(violations_on(anonymous, "/api/redoc/")) == {
        "img-src https://cdn.redoc.ly/redoc/logo-mini.svg"
    }


def test_the_api_reference_renders_from_this_origin(signed_in):
    page = signed_in().new_page()
    page.goto("/api/docs/", wait_until="networkidle")
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("Junction API")
    page.goto("/api/redoc/", wait_until="networkidle")
    assert "Junction API" in page.locator("h1").first.inner_text()


def test_axe_finds_no_serious_or_critical_violation(signed_in, dashboard):
    page = signed_in(dashboard["user"], bypass_csp=True).new_page()
    found = {}
    for path in [*dashboard["pages"], "/accounts/login/"]:
        page.goto(path, wait_until="networkidle")
        page.evaluate(AXE.read_text())
        violations = page.evaluate("""async () => (await axe.run(document)).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))""")
        if violations:
            found[path] = violations
    assert found == {}


def axe_violations(page) -> list[str]:
    page.evaluate(AXE.read_text())
    return page.evaluate("""async () => (await axe.run(document)).violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))""")


def test_a_new_token_is_shown_once_and_copied_by_its_button(signed_in, eu_operator):
    context = signed_in(eu_operator)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.add_init_script(WATCH_VIOLATIONS)
    page.goto("/api-tokens/", wait_until="networkidle")
    page.get_by_label("Name").fill("browser test")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_load_state("networkidle")
    token = page.get_by_label("Your new token").input_value()
    assert token.startswith("jct_")
    page.get_by_role("button", name="Copy").click()
    page.get_by_role("status").filter(has_text="Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == token
    assert page.evaluate("window.__cspViolations") == []
    assert axe_violations(page) == []
