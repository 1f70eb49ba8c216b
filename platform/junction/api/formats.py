"""The formats an API answer comes in: JSON, or `?format=csv`, the rows a spreadsheet or a
traffic-study tool wants.

A list answers its page of `results`; a series (counts, daily totals, rollups, measures) its
`results` with the series' own fields (site, region, time zone, interval ...) repeated on every
row, so files of several sites can be stacked. Nested values become dotted columns
(djangorestframework-csv's flattening); columns keep the order of the JSON answer rather than
the library's alphabetical one. An error is a table too: one row per field and message, under
the same status code as in JSON.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework_csv.renderers import CSVRenderer

# What a page adds around its rows; a row says nothing with these.
_PAGE_FIELDS = frozenset({"count", "next", "previous"})


class TableRenderer(CSVRenderer):
    format = "csv"
    media_type = "text/csv"

    def render(
        self,
        data: Any,
        media_type: str | None = None,
        renderer_context: dict | None = None,
        writer_opts: Any = None,
    ) -> bytes:
        context = dict(renderer_context or {})
        response = context.get("response")
        if response is not None and response.status_code >= 400:
            rows = error_rows(data)
        else:
            rows = table_rows(data)
        if "header" not in context:
            context["header"] = self.columns(rows) or empty_columns(data, context.get("view"))
        return super().render(rows, media_type, context, writer_opts)

    def columns(self, rows: list[dict]) -> list[str]:
        """Every column of the flattened rows, in the order the answer first gives them."""
        seen: dict[str, None] = {}
        for row in rows:
            seen.update(dict.fromkeys(self.flatten_item(row)))
        return list(seen)


def table_rows(data: Any) -> list[dict]:
    if isinstance(data, list):
        return data
    if not isinstance(data, dict):
        return [] if data is None else [{"value": data}]
    results = data.get("results")
    if not isinstance(results, list):
        return [data]  # one object (a site, a device, an anomaly)
    series = series_fields(data)
    return [
        {**series, **row} if isinstance(row, dict) else {**series, "value": row} for row in results
    ]


def series_fields(data: Any) -> dict:
    """A series' own plain fields (site, region, interval ...), repeated on each of its rows."""
    if not isinstance(data, dict):
        return {}
    return {
        name: value
        for name, value in data.items()
        if name not in _PAGE_FIELDS and name != "results" and not isinstance(value, list | dict)
    }


def empty_columns(data: Any, view: Any) -> list[str]:
    """The header of a table with no rows, from the view's serializer: a file with no rows
    still says what its columns would be."""
    serializer_class = getattr(view, "serializer_class", None)
    if serializer_class is None:
        return []
    fields = serializer_class().fields
    results = fields.get("results")
    if results is None:  # a list of objects: the serializer describes one row
        return list(fields)
    return list(series_fields(data)) + list(getattr(results, "child", results).fields)


def error_rows(data: Any) -> list[dict]:
    """{"start": ["msg"], "detail": "msg"} -> rows of (field, message)."""
    if not isinstance(data, dict):
        return [{"field": "", "message": str(data)}]
    rows = []
    for name, messages in data.items():
        for message in messages if isinstance(messages, list) else [messages]:
            rows.append({"field": name, "message": str(message)})
    return rows


class FormatNegotiation(DefaultContentNegotiation):
    """DRF answers an unknown ?format= with 404, as if the resource were missing; it is a query
    parameter it cannot use, answered 400 naming it like every other."""

    def filter_renderers(self, renderers, format):
        chosen = [renderer for renderer in renderers if renderer.format == format]
        if not chosen:
            known = sorted({renderer.format for renderer in renderers} - {"api"})
            raise ValidationError(
                {
                    self.settings.URL_FORMAT_OVERRIDE: [
                        f"unknown format {format!r}; use one of {', '.join(known)}"
                    ]
                }
            )
        return chosen
