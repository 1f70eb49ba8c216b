"""Refusals of the ingest endpoint: each has a status, a rule code, the field and a message.

Every refusal is raised before anything is stored (or inside the transaction that it rolls
back), and rendered as `{"error": code, "field": path, "detail": message}`.
"""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse


class IngestRefused(Exception):
    status = 400

    def __init__(self, code: str, field: str, detail: str, **extra: Any) -> None:
        super().__init__(f"{field}: {detail}")
        self.code = code
        self.field = field
        self.detail = detail
        self.extra = extra

    def response(self) -> JsonResponse:
        body = {"error": self.code, "field": self.field, "detail": self.detail, **self.extra}
        response = JsonResponse(body, status=self.status)
        for header, value in self.headers().items():
            response[header] = value
        return response

    def headers(self) -> dict[str, str]:
        return {}


class Unauthenticated(IngestRefused):
    """Bad or missing signature, stale timestamp, replayed signature, unknown device."""

    status = 401


class Forbidden(IngestRefused):
    """A known device that may not write this batch: revoked, or not of this site/region."""

    status = 403


class InProgress(IngestRefused):
    """The same batch is being stored by another request right now."""

    status = 409

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class LengthRequired(IngestRefused):
    """No Content-Length, or not a number: the signature needs the whole body."""

    status = 411


class TooLarge(IngestRefused):
    """The body is larger than a batch may be; `max_bytes` says the limit."""

    status = 413


class Misdirected(IngestRefused):
    """The device's region is not served by this node; `endpoint` says where to go."""

    status = 421


class Invalid(IngestRefused):
    """The body breaks the schema or the region's policy; `field` names where, `error` the rule."""

    status = 422


class Unavailable(IngestRefused):
    """The database, the replay store or the device's credentials cannot be reached; retry."""

    status = 503

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


class TooManyFailures(IngestRefused):
    """Too many bad signatures from this device id or address lately; `retry_after` says when
    it may try again (the edge uplink waits that long and keeps its batches)."""

    status = 429

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.extra.get("retry_after", 60))}
