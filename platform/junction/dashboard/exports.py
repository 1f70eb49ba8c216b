"""CSV of exactly what a site page's chart and tables show: local times with their UTC offset,
coverage beside every count (an empty count is no data, not zero), and a filename naming the
site, the period and the time zone."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable

from django.http import HttpResponse

from junction.dashboard.study import Study


def number(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{round(value, digits):g}"


def flow_rows(study: Study) -> Iterable[list]:
    compare = study.span.compare is not None
    yield [
        "start",
        "end",
        "count",
        "coverage",
        "status",
        "pending",
        "normal_low",
        "normal_median",
        "normal_high",
        *(["compared"] if compare else []),
    ]
    for p in study.points:
        band = (p.normal.low, p.normal.median, p.normal.high) if p.normal else (None,) * 3
        yield [
            p.start.isoformat(),
            p.end.isoformat(),
            "" if p.count is None else p.count,
            number(p.coverage),
            p.status,
            "yes" if p.pending else "",
            *(number(value, 1) for value in band),
            *([("" if p.compared is None else p.compared)] if compare else []),
        ]


def share_rows(label: str, table: str) -> Callable[[Study], Iterable[list]]:
    def rows(study: Study) -> Iterable[list]:
        yield [label, "count", "share"]
        for share in getattr(study, table):
            yield [share.label, share.count, number(share.share)]

    return rows


def peak_rows(study: Study) -> Iterable[list]:
    zone = study.span.zone
    yield ["date", "am_peak_start", "am_volume", "am_phf", "pm_peak_start", "pm_volume", "pm_phf"]
    for day in study.peaks:
        cells: list = [day.day.isoformat()]
        for peak in (day.am, day.pm):
            cells += (
                ["", "", ""]
                if peak is None
                else [peak.start.astimezone(zone).isoformat(), peak.volume, number(peak.phf)]
            )
        yield cells


def heatmap_rows(study: Study) -> Iterable[list]:
    yield ["weekday", *(f"{hour:02d}:00" for hour in range(24))]
    for row in study.heatmap:
        yield [row.weekday, *(number(cell.value, 1) for cell in row.cells)]


def tmc_rows(study: Study) -> Iterable[list]:
    yield ["start", "status", *study.movements]
    for row in study.tmc:
        yield [row.start.isoformat(), row.status, *("" if c is None else c for c in row.counts)]


def speed_rows(study: Study) -> Iterable[list]:
    yield ["hour_start", "v85_kmh"]
    for hour, v85 in study.speed.v85.items() if study.speed else ():
        yield [hour.astimezone(study.span.zone).isoformat(), number(v85, 1)]


WRITERS: dict[str, Callable[[Study], Iterable[list]]] = {
    "flow": flow_rows,
    "modes": share_rows("road_user", "modes"),
    "directions": share_rows("direction", "directions"),
    "peaks": peak_rows,
    "heatmap": heatmap_rows,
    "tmc": tmc_rows,
    "speed": speed_rows,
}


def filename(study: Study, table: str) -> str:
    span = study.span
    zone = study.site.timezone.replace("/", "-")
    return f"{study.site.slug}_{table}_{span.first}_{span.last}_{zone}.csv"


def study_csv(study: Study, table: str) -> HttpResponse:
    answer = HttpResponse(content_type="text/csv; charset=utf-8")
    answer["Content-Disposition"] = f'attachment; filename="{filename(study, table)}"'
    csv.writer(answer).writerows(WRITERS[table](study))
    return answer
