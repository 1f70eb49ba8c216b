"""A query parameter the databases cannot take is a 400 page naming it, never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse


@pytest.mark.parametrize(
    "url, parameter",
    [
        (reverse("dashboard:region-anomalies", args=["eu-west"]) + "?site=%00", "site"),
        (reverse("dashboard:region-anomalies", args=["eu-west"]) + "?site=main%00", "site"),
        (reverse("dashboard:region-anomalies", args=["eu-west"]) + "?state=open&page=%00", "page"),
        (reverse("dashboard:site", args=["main-and-5th"]) + "?start=%00", "start"),
        (reverse("admin:sites_site_changelist") + "?q=%00", "q"),
    ],
)
def test_it_answers_a_nul_in_a_query_parameter_with_a_400_page(
    client, admin_user, eu_site, url, parameter
):
    client.force_login(admin_user)
    answer = client.get(url)
    assert answer.status_code == 400
    page = answer.content.decode()
    assert f"<code>{parameter}</code>" in page and "NUL" in page
