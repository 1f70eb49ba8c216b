"""Publication tables: a site's rollups over a date range as windows x categories, with small
cells withheld (junction.opendata.suppression) and, when the region sets an epsilon, Laplace
noise on what is published (junction.opendata.noise).

Totals are sums of the cells as published (flagged `complete: false` when a cell of the line is
withheld), never of the true counts: then nothing in the export is a function of a withheld
cell, with or without noise, and the same rule serves both. Complementary suppression still
runs, because true window totals reach readers by other roads (daily site totals under a
transfer rule, another export at a coarser period).

With noise, epsilon covers the published values; which cells are withheld is decided on the
true counts (as the region's policy asks: k first, then noise) and is not itself noised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from junction.analytics import selectors
from junction.analytics.models import Period
from junction.opendata.noise import cell_rng, laplace_scale, noisy_count
from junction.opendata.suppression import suppress
from junction.sites.models import Site

PERIODS = {"day": Period.DAY, "hour": Period.HOUR}
SCHEMA = "junction.opendata/v1"


@dataclass(frozen=True)
class Category:
    counter: str
    direction: str | None  # None for movements
    road_user: str


@dataclass(frozen=True)
class WindowLine:
    """One window. `cells` follow the table's categories; None is withheld, or no data at
    all when `status` is no_data (then every cell is None and none is `withheld`)."""

    start: datetime
    end: datetime
    coverage: float | None
    status: str
    pending: bool
    cells: list[int | None]
    withheld: list[bool]

    @property
    def total(self) -> int | None:
        if self.status == "no_data":
            return None
        return sum(count for count in self.cells if count is not None)

    @property
    def total_complete(self) -> bool:
        return not any(self.withheld)


@dataclass(frozen=True)
class CategoryTotal:
    """A category over the range's completely measured windows only: partial windows would
    mix half-measured counts into the sum, so they are left out and counted."""

    category: Category
    total: int
    complete: bool  # no withheld cell among the windows summed
    windows: int  # complete windows summed
    partial_windows: int  # measured in part, not summed


@dataclass(frozen=True)
class SiteTable:
    site: str
    timezone: str
    categories: list[Category]
    windows: list[WindowLine]
    category_totals: list[CategoryTotal]

    @property
    def cells(self) -> int:
        return sum(len(w.cells) for w in self.windows if w.status != "no_data")

    @property
    def withheld(self) -> int:
        return sum(sum(w.withheld) for w in self.windows)


@dataclass(frozen=True)
class Publication:
    region: str
    period: str  # day | hour
    start: date
    end: date  # the day after the last
    k: int
    epsilon: float | None
    tables: list[SiteTable]

    @property
    def noise(self) -> dict | None:
        if self.epsilon is None:
            return None
        return {
            "mechanism": "laplace",
            "epsilon": self.epsilon,
            "scale": laplace_scale(self.epsilon),
        }


def site_table(
    *,
    site: Site,
    period: str,
    start: date,
    end: date,
    k: int,
    epsilon: float | None,
    rng: np.random.Generator | None = None,
) -> SiteTable:
    """The publication table of one site over its local days [start, end).

    Noise (when `epsilon` is set) comes from each cell's keyed generator (see
    junction.opendata.noise), or from `rng` when one is given (tests fix it with a seed).

    Suppression runs block by block (a calendar month of days, a local day of hours) over
    whole blocks even where the range cuts one, so a window gets the same decision in every
    export that includes it: two exports over overlapping ranges cannot be set against each
    other. A day's hours are a block because their column sums are the day export's cells.
    """
    zone = ZoneInfo(site.timezone)
    first, last = _midnight(start, zone), _midnight(end, zone)
    block_start, block_end = _block_span(period, start, end)
    grid = selectors.window_grid(
        period=PERIODS[period],
        start=_midnight(block_start, zone),
        end=_midnight(block_end, zone),
        tz=zone,
    )
    windows = selectors.rollup_windows(
        region=site.region.code, site_id=site.pk, period=PERIODS[period], windows=grid
    )
    categories = sorted(
        {Category(r["counter"], r["direction"], r["road_user"]) for w in windows for r in w.rows},
        key=lambda c: (c.counter, c.direction or "", c.road_user),
    )
    column = {category: j for j, category in enumerate(categories)}
    # Windows never measured have no cells at all (unknown, not zero): left out of the table.
    measured = [w for w in windows if w.count is not None]
    table = np.zeros((len(measured), len(categories)), dtype=np.int64)
    for i, window in enumerate(measured):
        for r in window.rows:
            table[i, column[Category(r["counter"], r["direction"], r["road_user"])]] = r["count"]
    hidden = _suppress_by_block(table, [_block_of(period, w, zone) for w in measured], k)
    wanted = np.array([w.end > first and w.start < last for w in measured], dtype=bool)
    published = table.copy()
    if epsilon is not None:
        # Suppression is judged on the true counts; only what is published is noised.
        for i, j in zip(*np.nonzero(~hidden & wanted[:, None]), strict=True):
            count = int(table[i, j])
            draw = (
                rng
                if rng is not None
                else cell_rng(
                    site.region.code,
                    site.pk,
                    period,
                    measured[i].start.isoformat(),
                    categories[j],
                    count,
                )
            )
            published[i, j] = noisy_count(count, epsilon=epsilon, rng=draw)
    # Categories with nothing in the range (no count, nothing withheld) are left out.
    shown = [
        j for j in range(len(categories)) if (table[wanted, j] > 0).any() or hidden[wanted, j].any()
    ]
    rows = {
        id(w): (published[i, shown].tolist(), hidden[i, shown].tolist())
        for i, w in enumerate(measured)
    }
    lines = []
    for window in windows:
        if not (window.end > first and window.start < last):
            continue  # read only to complete its block
        if window.count is None:
            cells: list[int | None] = [None] * len(shown)
            withheld = [False] * len(shown)
        else:
            counts, withheld = rows[id(window)]
            cells = [None if w else c for c, w in zip(counts, withheld, strict=True)]
        lines.append(
            WindowLine(
                start=window.start,
                end=window.end,
                coverage=window.coverage,
                status=window.status,
                pending=window.pending,
                cells=cells,
                withheld=withheld,
            )
        )
    published_categories = [categories[j] for j in shown]
    return SiteTable(
        site=site.slug,
        timezone=site.timezone,
        categories=published_categories,
        windows=lines,
        category_totals=_category_totals(published_categories, lines),
    )


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def _block_span(period: str, start: date, end: date) -> tuple[date, date]:
    """The whole blocks covering local days [start, end)."""
    if period == "hour":
        return start, end
    last = end - timedelta(days=1)
    after = date(last.year + last.month // 12, last.month % 12 + 1, 1)
    return date(start.year, start.month, 1), after


def _block_of(period: str, window: selectors.RollupWindow, zone: ZoneInfo) -> object:
    if period == "hour":
        # By its middle: in a half-hour zone an hour runs :30 to :30 across local midnight.
        return (window.start + (window.end - window.start) / 2).astimezone(zone).date()
    local = window.start.astimezone(zone)
    return local.year, local.month


def _suppress_by_block(table: np.ndarray, blocks: list[object], k: int) -> np.ndarray:
    hidden = np.zeros(table.shape, dtype=bool)
    for block in dict.fromkeys(blocks):
        rows = [i for i, b in enumerate(blocks) if b == block]
        hidden[rows] = suppress(table[rows], k)
    return hidden


def _category_totals(categories: list[Category], lines: list[WindowLine]) -> list[CategoryTotal]:
    complete = [w for w in lines if w.status == "complete"]
    partial = sum(1 for w in lines if w.status == "partial")
    return [
        CategoryTotal(
            category=category,
            total=sum(w.cells[j] or 0 for w in complete),
            complete=not any(w.withheld[j] for w in complete),
            windows=len(complete),
            partial_windows=partial,
        )
        for j, category in enumerate(categories)
    ]
