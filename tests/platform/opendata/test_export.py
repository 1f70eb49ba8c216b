"""The open-data export service over stored rollups: small cells withheld (never 0), totals
that give nothing away, noise only when the region sets an epsilon, coverage on every window,
and an audit entry for every export."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from junction.analytics import rollups
from junction.analytics.models import Period, Rollup
from junction.opendata.formats import as_document
from junction.opendata.noise import cell_rng
from junction.opendata.publication import Category
from junction.opendata.services import opendata_export
from junction.residency.models import AuditEvent
from junction.sites import services as site_services
from tests.platform.analytics.factories import store_buckets
from tests.platform.opendata.factories import store_days, store_windows

EU = "eu-west"
DAY1 = date(2026, 11, 23)
CAR, BUS, BIKE = (
    ("north-stopline", "in", "car"),
    ("north-stopline", "in", "bus"),
    ("N>E", "", "bicycle"),
)
# Day 1 has a bus count of 3: with k = 5 it is withheld, and since the day's true total (55)
# is known elsewhere, a second cell of the day must go with it.
TABLE = {CAR: [40, 60, 70], BUS: [3, 9, 11], BIKE: [12, 14, 16]}


def export(region, **kwargs):
    region.refresh_from_db()
    kwargs.setdefault("start", DAY1)
    kwargs.setdefault("end", DAY1 + timedelta(days=3))
    return opendata_export(region=region, actor="officer", **kwargs)


def cells(table) -> list[dict]:
    return [
        {
            (c.counter, c.direction or "", c.road_user): count
            for c, count in zip(table.categories, w.cells, strict=True)
        }
        for w in table.windows
    ]


@pytest.fixture
def days(eu_site):
    store_days(eu_site, DAY1, TABLE)
    return eu_site


def test_it_publishes_cells_at_or_above_k_and_withholds_the_small_one_as_empty(eu_west, days):
    publication = export(eu_west, site=days)
    (table,) = publication.tables
    assert (publication.k, publication.epsilon, publication.noise) == (5, None, None)
    assert table.categories == [
        Category("N>E", None, "bicycle"),
        Category("north-stopline", "in", "bus"),
        Category("north-stopline", "in", "car"),
    ]
    day1, day2, day3 = cells(table)
    assert day1[BUS] is None and table.windows[0].withheld[1]  # withheld: empty, never 0
    # Day 1 gives up its bicycles (next-smallest of the row); bus and bicycle columns then
    # have one withheld cell each, so day 2's go too: a 2 x 2 block no total can open.
    assert day1 == {CAR: 40, BUS: None, BIKE: None}
    assert day2 == {CAR: 60, BUS: None, BIKE: None}
    assert day3 == {CAR: 70, BUS: 11, BIKE: 16}  # never touched


def test_it_withholds_a_second_cell_so_the_day_total_does_not_give_the_small_one_away(
    eu_west, days
):
    (table,) = export(eu_west, site=days).tables
    day1 = table.windows[0]
    true = dict(zip(table.categories, [12, 3, 40], strict=True))
    hidden = [c for c, withheld in zip(table.categories, day1.withheld, strict=True) if withheld]
    # Knowing the true day total 55, the published cells leave a sum of at least k to split
    # between at least two withheld cells: the 3 cannot be told from the other.
    assert len(hidden) >= 2 and sum(true[c] for c in hidden) >= 5
    assert 55 - sum(c for c in day1.cells if c is not None) >= 5
    # The column too: bus has a withheld cell on day 1, so another day's bus goes with it.
    assert sum(w.withheld[1] for w in table.windows) >= 2


def test_it_totals_only_published_cells_so_no_total_minus_cells_reveals_anything(eu_west, days):
    (table,) = export(eu_west, site=days).tables
    for window in table.windows:
        assert window.total == sum(c for c in window.cells if c is not None)
        assert window.total_complete == (not any(window.withheld))
    for j, total in enumerate(table.category_totals):
        assert total.total == sum(w.cells[j] or 0 for w in table.windows)
        assert total.complete == (not any(w.withheld[j] for w in table.windows))
    assert not table.windows[0].total_complete


def test_it_adds_laplace_noise_only_when_the_region_sets_an_epsilon(eu_west, days):
    plain = export(eu_west, site=days, rng=np.random.default_rng(1))
    assert cells(plain.tables[0])[2] == {CAR: 70, BUS: 11, BIKE: 16}
    eu_west.dp_epsilon = 0.5
    eu_west.save()
    noisy = export(eu_west, site=days, rng=np.random.default_rng(1))
    again = export(eu_west, site=days, rng=np.random.default_rng(1))
    assert noisy.noise == {"mechanism": "laplace", "epsilon": 0.5, "scale": 2.0}
    (table,) = noisy.tables
    published = [c for w in table.windows for c in w.cells if c is not None]
    true = [c for w in plain.tables[0].windows for c in w.cells if c is not None]
    assert published != true and all(c >= 0 for c in published)
    assert cells(table) == cells(again.tables[0])  # the injected seed fixes the draw
    # Suppression is judged on the true counts, before the noise; totals sum the noisy cells.
    assert [w.withheld for w in table.windows] == [w.withheld for w in plain.tables[0].windows]
    assert all(w.total == sum(c for c in w.cells if c is not None) for w in table.windows)
    assert as_document(noisy)["noise"]["epsilon"] == 0.5


def test_it_gives_the_same_data_the_same_noise_so_repeats_cannot_be_averaged(eu_west, days):
    eu_west.dp_epsilon = 0.5
    eu_west.save()
    first, second = (cells(export(eu_west, site=days).tables[0]) for _ in range(2))
    assert first == second
    assert first != cells(export(eu_west, site=days, rng=np.random.default_rng(1)).tables[0])
    # A count that changed draws afresh (a shared draw would give the change away exactly);
    # the other days keep theirs.
    Rollup.objects.in_region(EU).filter(road_user="car", count=70).update(count=71)
    assert cells(export(eu_west, site=days).tables[0])[:2] == first[:2]
    key = ("eu-west", days.pk, "day", "2026-11-25T00:00:00+00:00", "car")
    assert cell_rng(*key, 70).random() == cell_rng(*key, 70).random()
    assert cell_rng(*key, 70).random() != cell_rng(*key, 71).random()


def test_it_refuses_a_region_policy_with_an_epsilon_that_is_not_positive(eu_west, days):
    eu_west.dp_epsilon = 0.0
    eu_west.save()
    with pytest.raises(ValidationError, match="must be positive"):
        export(eu_west, site=days)


def test_it_flags_partial_and_unmeasured_days_and_keeps_them_out_of_category_totals(
    eu_west, eu_site
):
    store_days(eu_site, DAY1, {CAR: [40, 20, 0]}, coverage=[1.0, 0.5, 0.0])
    (table,) = export(eu_west, site=eu_site).tables
    assert [(w.status, w.coverage, w.cells, w.total) for w in table.windows] == [
        ("complete", 1.0, [40], 40),
        ("partial", 0.5, [20], 20),  # half measured: flagged, not mixed in
        ("no_data", None, [None], None),  # nothing delivered: unknown, not zero or withheld
    ]
    assert table.windows[2].withheld == [False]
    (car,) = table.category_totals
    assert (car.total, car.windows, car.partial_windows) == (40, 1, 1)


def test_it_exports_every_site_of_the_region_when_none_is_named(eu_west, days):
    second = site_services.site_add(
        slug="elm-and-2nd",
        region=EU,
        name="Elm & 2nd",
        counters={"north-stopline": {"line": [0, 0, 10, 0]}},
    )
    store_days(second, DAY1, {CAR: [7, 8, 9]})
    publication = export(eu_west)
    assert [t.site for t in publication.tables] == ["elm-and-2nd", "main-and-5th"]


def test_it_cuts_hours_from_real_rollups(eu_west, eu_site):
    start = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    store_buckets(
        region=EU,
        site_id=eu_site.pk,
        start=start,
        minutes=120,
        counts=lambda m: {
            ("north-stopline", "in", "car"): 1,
            ("N>E", None, "bus"): 1 if m.minute == 0 else 0,
        },
    )
    rollups.rollups_recompute(
        region=EU, site_id=eu_site.pk, start=start, end=start + timedelta(hours=2)
    )
    (table,) = export(eu_west, site=eu_site, period="hour", end=DAY1 + timedelta(days=1)).tables
    assert len(table.windows) == 24
    measured = [w for w in table.windows if w.status != "no_data"]
    assert [(w.start.hour, w.cells) for w in measured] == [(6, [None, None]), (7, [None, None])]
    # One bus an hour is withheld, and the hour's cars with it (a line needs two). The two
    # buses still sum to 2 < k with nothing left in their column to add, so the whole column
    # stays withheld; unmeasured hours are not cells and never serve as cover.


def test_it_decides_a_day_alike_in_every_export_that_includes_it(eu_west, eu_site):
    # Cut at the 24th, the bus column would take the 24th's 20 as the 3's complement; read
    # by whole month it takes the 25th's 4. Exports over both ranges must agree.
    store_days(eu_site, DAY1, {CAR: [40, 50, 60], BUS: [3, 20, 4], BIKE: [30, 30, 30]})
    short = export(eu_west, site=eu_site, end=DAY1 + timedelta(days=2))
    long = export(eu_west, site=eu_site, end=DAY1 + timedelta(days=3))
    assert cells(short.tables[0]) == cells(long.tables[0])[:2]
    assert cells(short.tables[0])[1] == {CAR: 50, BUS: 20, BIKE: 30}


def test_it_protects_hours_against_the_day_export_of_the_same_day(eu_west, eu_site):
    # Day 1's buses: 2 at 06:00 and 10 at 07:00; the day export publishes 12. Were the 2's
    # complement day 2's 6 (the smallest in the whole column), 12 - 10 would give it away.
    day1, day2 = (datetime(2026, 11, d, 6, tzinfo=UTC) for d in (23, 24))
    starts = [day1, day1 + timedelta(hours=1), day2, day2 + timedelta(hours=1)]
    store_windows(eu_site, Period.HOUR, starts, {CAR: [60, 60, 60, 60], BUS: [2, 10, 6, 10]})
    (table,) = export(eu_west, site=eu_site, period="hour", end=DAY1 + timedelta(days=2)).tables
    bus = table.categories.index(Category(*BUS[:2], "bus"))
    hours = {(w.start.day, w.start.hour): w for w in table.windows if w.status != "no_data"}
    for day in (23, 24):
        withheld = [hours[day, h].withheld[bus] for h in (6, 7)]
        assert sum(withheld) in (0, 2)  # never one withheld hour beside a published one
    assert hours[23, 7].cells[bus] is None


def test_it_exports_nothing_but_no_data_windows_when_nothing_was_counted(eu_west, eu_site):
    (table,) = export(eu_west, site=eu_site).tables
    assert table.categories == [] and table.category_totals == []
    assert [(w.status, w.total) for w in table.windows] == [("no_data", None)] * 3


def test_it_writes_every_export_to_the_regions_audit_log(eu_west, days):
    eu_west.dp_epsilon = 1.0
    eu_west.save()
    export(eu_west, site=days, rng=np.random.default_rng(0))
    (event,) = AuditEvent.objects.in_region(EU).filter(action="export")
    assert event.actor == "officer"
    assert event.detail == {
        "kind": "opendata",
        "site": "main-and-5th",
        "sites": ["main-and-5th"],
        "period": "day",
        "start": "2026-11-23",
        "end": "2026-11-26",
        "k": 5,
        "dp_epsilon": 1.0,
        "cells": 9,
        "withheld": event.detail["withheld"],
    }
    assert event.detail["withheld"] >= 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"start": DAY1, "end": DAY1}, "must be before end"),
        ({"end": DAY1 + timedelta(days=400)}, "at most 366 days"),
        ({"period": "hour", "end": DAY1 + timedelta(days=100)}, "at most 93 days"),
        ({"period": "week"}, "one of day, hour"),
    ],
    ids=["empty", "too long", "too long for hours", "unknown period"],
)
def test_it_refuses_a_bad_request_and_audits_nothing(eu_west, days, kwargs, message):
    with pytest.raises(ValidationError, match=message):
        export(eu_west, site=days, **kwargs)
    assert not AuditEvent.objects.in_region(EU).exists()


def test_it_refuses_a_site_of_another_region(eu_west, us_site):
    with pytest.raises(ValidationError, match="not in region 'eu-west'"):
        export(eu_west, site=us_site)
