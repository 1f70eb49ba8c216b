"""Every dashboard page is sent with a Content-Security-Policy that forbids inline script and
style, and passes it: no inline <script> or <style>, no style= or on...= attribute, no
javascript: link; its stylesheet comes from this origin."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from tests.platform.api.factories import anomaly_add
from tests.platform.staff import counts_add


class InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.stylesheets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        # A JSON data block (json_script) is data the browser never runs: the policy allows it.
        if tag == "script" and not named.get("src") and named.get("type") != "application/json":
            self.inline.append("<script> without src")
        if tag == "style":
            self.inline.append("<style>")
        if tag == "link" and named.get("rel") == "stylesheet":
            self.stylesheets.append(named.get("href") or "")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.inline.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action") and (value or "").startswith("javascript:"):
                self.inline.append(f"<{tag} {name}=javascript:...>")


@pytest.fixture
def pages(eu_site, eu_operator, client):
    from datetime import UTC, datetime

    counts_add(
        eu_site, datetime(2026, 11, 24, 7, tzinfo=UTC), [("north-stopline", "in", "car", 12)]
    )
    client.force_login(eu_operator)
    anomaly = anomaly_add(eu_site, kind="outage")
    return [
        "/",
        f"/sites/{eu_site.slug}/",
        f"/sites/{eu_site.slug}/?period=28d",
        "/regions/eu-west/",
        "/regions/eu-west/anomalies/",
        f"/regions/eu-west/anomalies/{anomaly.pk}/",
    ]


def test_every_page_is_sent_with_a_policy_it_passes(client, pages):
    for url in [*pages, "/accounts/login/"]:
        if url == "/accounts/login/":
            client.logout()
        answer = client.get(url)
        assert answer.status_code == 200, url
        policy = answer["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, url
        assert "unsafe-inline" not in policy
        finder = InlineFinder()
        finder.feed(answer.content.decode())
        assert finder.inline == [], (url, finder.inline)
        assert finder.stylesheets[0] == "/static/dashboard/junction.css", url
        assert all(sheet.startswith("/static/") for sheet in finder.stylesheets), url


def test_the_stylesheet_is_served_from_this_origin(client):
    answer = client.get("/static/dashboard/junction.css")
    assert answer.status_code == 200
    assert b"font" in b"".join(answer.streaming_content)
