"""A publication as open data: one JSON document, or CSV with one line per cell and total.

Withheld cells are empty with a flag, never 0; so are cells of windows that were not measured.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from junction.opendata.publication import SCHEMA, Category, Publication

CSV_COLUMNS = [
    "site",
    "kind",
    "window_start",
    "window_end",
    "status",
    "coverage",
    "counter",
    "direction",
    "road_user",
    "count",
    "flag",
    "k",
    "noise_epsilon",
]
TOTALS_RULE = (
    "totals are sums of the cells as published; a total with complete=false "
    "leaves out withheld cells"
)


def _category(category: Category) -> dict[str, Any]:
    return {
        "counter": category.counter,
        "direction": category.direction,
        "road_user": category.road_user,
    }


def as_document(publication: Publication) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "region": publication.region,
        "period": publication.period,
        "start": publication.start,
        "end": publication.end,
        "k": publication.k,
        "noise": publication.noise,
        "totals": TOTALS_RULE,
        "sites": [
            {
                "site": table.site,
                "timezone": table.timezone,
                "categories": [_category(c) for c in table.categories],
                "windows": [
                    {
                        "start": w.start,
                        "end": w.end,
                        "status": w.status,
                        "coverage": w.coverage,
                        "pending": w.pending,
                        "total": w.total,
                        "complete": w.total_complete,
                        "cells": [
                            {**_category(c), "count": count, "withheld": withheld}
                            for c, count, withheld in zip(
                                table.categories, w.cells, w.withheld, strict=True
                            )
                        ],
                    }
                    for w in table.windows
                ],
                "category_totals": [
                    {
                        **_category(t.category),
                        "total": t.total,
                        "complete": t.complete,
                        "windows": t.windows,
                        "partial_windows": t.partial_windows,
                    }
                    for t in table.category_totals
                ],
            }
            for table in publication.tables
        ],
    }


def _flag(
    *,
    withheld: bool = False,
    status: str = "complete",
    complete: bool = True,
    partial_windows: int = 0,
) -> str:
    if withheld:
        return "withheld"
    if status == "no_data":
        return "no_data"
    flags = [] if complete else ["excludes_withheld"]
    if status == "partial":
        flags.append("partial_coverage")
    if partial_windows:
        flags.append("excludes_partial_windows")
    return ";".join(flags)


def as_csv(publication: Publication) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    policy = {
        "k": publication.k,
        "noise_epsilon": "" if publication.epsilon is None else publication.epsilon,
    }
    for table in publication.tables:
        for w in table.windows:
            window = {
                **policy,
                "site": table.site,
                "window_start": w.start.isoformat(),
                "window_end": w.end.isoformat(),
                "status": w.status,
                "coverage": "" if w.coverage is None else round(w.coverage, 4),
            }
            for c, count, withheld in zip(table.categories, w.cells, w.withheld, strict=True):
                writer.writerow(
                    {
                        **window,
                        "kind": "cell",
                        "counter": c.counter,
                        "direction": c.direction or "",
                        "road_user": c.road_user,
                        "count": "" if count is None else count,
                        "flag": _flag(withheld=withheld, status=w.status),
                    }
                )
            writer.writerow(
                {
                    **window,
                    "kind": "window_total",
                    "count": "" if w.total is None else w.total,
                    "flag": _flag(status=w.status, complete=w.total_complete),
                }
            )
        for t in table.category_totals:
            # Over the range's complete windows only (see CategoryTotal).
            writer.writerow(
                {
                    **policy,
                    "site": table.site,
                    "kind": "category_total",
                    "window_start": publication.start.isoformat(),
                    "window_end": publication.end.isoformat(),
                    "counter": t.category.counter,
                    "direction": t.category.direction or "",
                    "road_user": t.category.road_user,
                    "count": t.total,
                    "flag": _flag(complete=t.complete, partial_windows=t.partial_windows),
                }
            )
    return out.getvalue()
