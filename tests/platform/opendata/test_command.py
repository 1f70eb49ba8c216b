"""manage.py opendata_export: CSV (or JSON) with withheld cells empty and flagged, a summary
line or --json, and clear errors with a non-zero exit."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from junction.residency.models import AuditEvent
from tests.platform.opendata.factories import store_days

EU = "eu-west"
ARGS = ["--region", EU, "--start", "2026-11-23", "--end", "2026-11-25"]


@pytest.fixture
def days(eu_site):
    store_days(
        eu_site,
        date(2026, 11, 23),
        {
            ("north-stopline", "in", "car"): [40, 60],
            ("north-stopline", "in", "bus"): [3, 9],
            ("N>E", "", "bicycle"): [12, 14],
        },
        coverage=[1.0, 0.5],
    )
    return eu_site


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("opendata_export", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_writes_csv_with_withheld_cells_empty_and_flagged(days, tmp_path):
    path = tmp_path / "eu.csv"
    out, _ = run(*ARGS, "--site", days.slug, "--out", str(path))
    assert "eu-west: 6 cells over 1 site(s), 4 withheld (k=5, no noise)" in out
    rows = list(csv.DictReader(path.open()))
    cells = [
        (r["window_start"][:10], r["road_user"], r["count"], r["flag"], r["status"])
        for r in rows
        if r["kind"] == "cell"
    ]
    assert cells == [
        ("2026-11-23", "bicycle", "", "withheld", "complete"),
        ("2026-11-23", "bus", "", "withheld", "complete"),
        ("2026-11-23", "car", "40", "", "complete"),
        ("2026-11-24", "bicycle", "", "withheld", "partial"),
        ("2026-11-24", "bus", "", "withheld", "partial"),
        ("2026-11-24", "car", "60", "partial_coverage", "partial"),
    ]
    totals = [
        (r["kind"], r["road_user"], r["count"], r["flag"]) for r in rows if r["kind"] != "cell"
    ]
    assert totals == [
        ("window_total", "", "40", "excludes_withheld"),
        ("window_total", "", "60", "excludes_withheld;partial_coverage"),
        # over complete days only: the partial 24th is left out and said to be
        ("category_total", "bicycle", "0", "excludes_withheld;excludes_partial_windows"),
        ("category_total", "bus", "0", "excludes_withheld;excludes_partial_windows"),
        ("category_total", "car", "40", "excludes_partial_windows"),
    ]
    assert {r["k"] for r in rows} == {"5"} and {r["noise_epsilon"] for r in rows} == {""}
    assert AuditEvent.objects.in_region(EU).filter(action="export").count() == 1


def test_it_prints_the_export_to_stdout_and_the_summary_as_json_to_stderr(days, eu_west):
    eu_west.dp_epsilon = 1.0
    eu_west.save()
    out, err = run(*ARGS, "--format", "json", "--json")
    document = json.loads(out)
    assert document["noise"] == {"mechanism": "laplace", "epsilon": 1.0, "scale": 1.0}
    assert [s["site"] for s in document["sites"]] == ["main-and-5th"]
    summary = json.loads(err)
    assert (summary["region"], summary["cells"], summary["out"]) == (EU, 6, "-")


def test_it_prints_a_json_summary_with_out(days, tmp_path):
    out, _ = run(*ARGS, "--out", str(tmp_path / "x.csv"), "--json")
    assert json.loads(out)["k"] == 5


@pytest.mark.parametrize(
    "args, message",
    [
        (["--region", "mars", "--start", "2026-11-23", "--end", "2026-11-25"], "no region 'mars'"),
        ([*ARGS[:2], "--start", "23/11/2026", "--end", "2026-11-25"], "is not a date"),
        ([*ARGS[:2], "--start", "2026-11-25", "--end", "2026-11-23"], "must be before end"),
        ([*ARGS, "--site", "nowhere"], "no site 'nowhere'"),
        ([*ARGS, "--site", "broadway-and-king"], "not in region 'eu-west'"),
        ([*ARGS, "--out", "/nonexistent/dir/eu.csv"], "is not a directory"),
    ],
    ids=[
        "unknown region",
        "bad date",
        "reversed",
        "unknown site",
        "site of another region",
        "no such folder",
    ],
)
def test_it_fails_with_a_clear_error(days, us_site, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not AuditEvent.objects.in_region(EU).exists()


def test_it_refuses_a_region_this_node_does_not_serve(days):
    with (
        override_settings(SERVED_REGIONS=("us-east",), JUNCTION_REGION="us-east"),
        pytest.raises(CommandError, match="does not serve region 'eu-west'"),
    ):
        run(*ARGS)


def test_it_exits_non_zero_from_the_shell(days):
    from django.core.management import ManagementUtility

    utility = ManagementUtility(
        [
            "manage.py",
            "opendata_export",
            "--region",
            "mars",
            "--start",
            "2026-11-23",
            "--end",
            "2026-11-25",
        ]
    )
    with pytest.raises(SystemExit) as exit_info:
        utility.execute()
    assert exit_info.value.code == 1
