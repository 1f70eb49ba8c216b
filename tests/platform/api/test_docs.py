"""The API reference works offline: Swagger UI and Redoc load everything from this origin (no
CDN, no web fonts) and no inline script, and the schema they read is served beside them."""

from __future__ import annotations

import re

import pytest

PAGES = ("/api/docs/", "/api/redoc/")


@pytest.mark.parametrize("url", PAGES)
def test_the_reference_page_loads_only_this_origins_files(client, url):
    answer = client.get(url)
    assert answer.status_code == 200
    page = answer.content.decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "a file from another host"
    assert "<style" not in page
    assert not re.search(r"<script>(?!</script>)", page), "inline script"
    assert "script-src 'self'" in answer["Content-Security-Policy"]
    assets = re.findall(r"""(?:src|href)="(/static/[^"]+)\"""", page)
    assert assets, page
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert b"".join(served.streaming_content), asset


def test_swagger_ui_reads_its_start_script_and_the_schema_from_this_origin(client):
    page = client.get("/api/docs/").content.decode()
    script_url = re.search(r'<script src="(/api/docs/\?script=[^"]*)"', page).group(1)
    script = client.get(script_url.replace("&amp;", "&"))
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200 and schema.json()["info"]["title"] == "Junction API"
