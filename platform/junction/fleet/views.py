"""The fleet endpoints of a region: its TUF repository (metadata and targets) and the device
check-in. Every request is signed by a device of that region (junction.ingest.auth, the one
choke point); the repository's files are read-only here, as the web process holds no key.

```
GET  /api/v1/fleet/<region>/metadata/<name>   timestamp.json, <N>.root.json, <N>.snapshot.json...
GET  /api/v1/fleet/<region>/targets/<path>    <folder>/<sha256>.<file name>
POST /api/v1/fleet/<region>/checkin           junction.checkin/v1
```
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from redis.exceptions import RedisError

from junction.fleet.checkin import checkin_parse, checkin_record
from junction.fleet.selectors import RepoFile, metadata_file_get, target_file_get
from junction.ingest.auth import device_request_verify, request_signed_bytes
from junction.ingest.errors import (
    Forbidden,
    IngestRefused,
    Invalid,
    Misdirected,
    TooLarge,
    Unavailable,
)
from junction.ingest.selectors import DeviceContext
from junction.residency.errors import MisdirectedRegion
from junction.residency.planes import served_alias

log = logging.getLogger(__name__)

CHECKIN_MAX_BYTES = 16 * 1024
# timestamp.json and root.json change under their name: a cache must ask again every time
# (the ETag makes that a 304); versioned and hashed names never change.
MUTABLE_CACHE = "private, no-cache"
IMMUTABLE_CACHE = "private, max-age=31536000, immutable"


@method_decorator(csrf_exempt, name="dispatch")
class _DeviceView(View):
    """Device-signed, region-bound: the URL's region must be served here and be the device's."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        try:
            return super().dispatch(request, *args, **kwargs)
        except IngestRefused as refusal:
            return refusal.response()
        except DatabaseError:
            log.exception("fleet: database error")
            return Unavailable(
                "database_unavailable", "body", "the database cannot answer just now; retry"
            ).response()
        except RedisError:
            log.exception("fleet: Redis error")
            return Unavailable(
                "claims_unavailable", "body", "the replay store is unreachable; retry"
            ).response()

    def http_method_not_allowed(self, request: HttpRequest, *args, **kwargs) -> JsonResponse:
        allowed = [m.upper() for m in self.http_method_names if m != "options"]
        response = JsonResponse(
            {
                "error": "method_not_allowed",
                "field": "method",
                "detail": f"only {', '.join(allowed)} is accepted",
            },
            status=405,
        )
        response["Allow"] = ", ".join(allowed)
        return response

    def device_of(
        self, request: HttpRequest, region: str, *, body: bytes, replay_guard: bool
    ) -> DeviceContext:
        try:
            served_alias(region)
        except MisdirectedRegion as exc:
            raise Misdirected(
                "misdirected_region", "region", str(exc), region=exc.region, endpoint=exc.endpoint
            ) from exc
        device = device_request_verify(
            request, body=body, now=time.time(), replay_guard=replay_guard
        )
        if device.region != region:
            raise Forbidden(
                "wrong_region",
                "region",
                f"device {device.device_id!r} belongs to region {device.region!r}, "
                f"not {region!r}: use its own region's endpoint",
            )
        return device


def _file_response(found: RepoFile | None, name: str, content_type: str) -> HttpResponse:
    if found is None:
        return JsonResponse(
            {
                "error": "not_found",
                "field": "path",
                "detail": f"{name!r} is not in this region's repository",
            },
            status=404,
        )
    response = HttpResponse(found.content, content_type=content_type)
    # ConditionalGetMiddleware answers 304 when the device's If-None-Match still matches.
    response["ETag"] = f'"{found.sha256}"'
    response["Cache-Control"] = IMMUTABLE_CACHE if found.immutable else MUTABLE_CACHE
    response["Vary"] = "X-Junction-Device"
    return response


class MetadataView(_DeviceView):
    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, region: str, name: str) -> HttpResponse:
        self.device_of(request, region, body=request_signed_bytes(request), replay_guard=False)
        return _file_response(metadata_file_get(region, name), name, "application/json")


_RANGE = re.compile(r"bytes=(\d{1,19})-(\d{0,19})")


def _byte_range(header: str, length: int) -> tuple[int, int] | None:
    """The one `bytes=START-[END]` range asked for, clipped to the file; None for no range or
    one this endpoint does not serve (suffix or several ranges: the whole file is the answer, as
    RFC 9110 lets a server ignore Range). ValueError when it starts past the end (416)."""
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    start, end = int(match[1]), int(match[2]) if match[2] else length - 1
    if match[2] and end < start:
        return None
    if start >= length:
        raise ValueError(start)
    return start, min(end, length - 1)


class TargetView(_DeviceView):
    """A target file; a device whose download was cut asks for the rest with `Range` (the name
    carries the file's hash, so the bytes it already holds can only be of this same file)."""

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, region: str, name: str) -> HttpResponse:
        self.device_of(request, region, body=request_signed_bytes(request), replay_guard=False)
        found = target_file_get(region, name)
        response = _file_response(found, name, "application/octet-stream")
        if found is None:
            return response
        response["Accept-Ranges"] = "bytes"
        length = len(found.content)
        try:
            wanted = _byte_range(request.headers.get("Range", ""), length)
        except ValueError:
            refused = JsonResponse(
                {
                    "error": "range_not_satisfiable",
                    "field": "Range",
                    "detail": f"the file has {length} bytes",
                },
                status=416,
            )
            refused["Content-Range"] = f"bytes */{length}"
            return refused
        if wanted is None:
            return response
        start, end = wanted
        response.content = found.content[start : end + 1]
        response.status_code = 206
        response["Content-Range"] = f"bytes {start}-{end}/{length}"
        return response


class CheckinView(_DeviceView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, region: str) -> JsonResponse:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not declared.isdigit() or int(declared) > CHECKIN_MAX_BYTES:
            raise TooLarge(
                "body_too_large",
                "body",
                f"a check-in is at most {CHECKIN_MAX_BYTES} bytes",
                max_bytes=CHECKIN_MAX_BYTES,
            )
        body = request.read(CHECKIN_MAX_BYTES + 1)
        device = self.device_of(request, region, body=body, replay_guard=True)
        report = checkin_parse(body)
        if report.device_id != device.device_id:
            raise Invalid(
                "device_mismatch",
                "device_id",
                f"{report.device_id!r} differs from the signing device {device.device_id!r}",
            )
        answer = checkin_record(region=region, report=report, now=datetime.now(UTC))
        answer["poll_seconds"] = settings.JUNCTION_FLEET_POLL_SECONDS
        return JsonResponse(answer)
