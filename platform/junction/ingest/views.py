"""`POST /api/v1/ingest/batches`: the edge -> platform batch contract of DESIGN.md section 4.

The checks run cheapest and most fundamental first: size, timestamp, who signed, may that device
write at all, is its region served here, is the body valid, does it speak for this device and
site, then the policy and the store. Every refusal is JSON and happens before anything is stored.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime
from uuid import UUID

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from redis.exceptions import RedisError

from junction.ingest.auth import device_request_verify
from junction.ingest.errors import (
    IngestRefused,
    Invalid,
    LengthRequired,
    TooLarge,
    Unavailable,
)
from junction.ingest.policy import batch_identity_check
from junction.ingest.schema import BatchIn, batch_parse
from junction.ingest.services import batch_ingest

log = logging.getLogger(__name__)


@method_decorator(csrf_exempt, name="dispatch")
class BatchIngestView(View):
    """Device-authenticated by HMAC, not by session: no CSRF, no DRF parsing of the body."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> JsonResponse:
        try:
            outcome = self._ingest(request)
        except IngestRefused as refusal:
            return refusal.response()
        except DatabaseError:
            log.exception("ingest: database error")
            return Unavailable(
                "database_unavailable",
                "body",
                "the database could not take the batch just now; nothing was stored, retry",
            ).response()
        except RedisError:
            log.exception("ingest: Redis error")
            return Unavailable(
                "claims_unavailable",
                "body",
                "the replay and lock store is unreachable; nothing was stored, retry",
            ).response()
        return JsonResponse(outcome.as_json(), status=201 if outcome.created else 200)

    def http_method_not_allowed(self, request: HttpRequest, *args, **kwargs) -> JsonResponse:
        response = JsonResponse(
            {"error": "method_not_allowed", "field": "method", "detail": "only POST is accepted"},
            status=405,
        )
        response["Allow"] = "POST"
        return response

    def _ingest(self, request: HttpRequest):
        max_skew = settings.JUNCTION_INGEST_MAX_SKEW_SECONDS
        now = time.time()
        body = _body_read(request, settings.JUNCTION_INGEST_MAX_BYTES)
        device = device_request_verify(request, body=body, now=now)
        batch = batch_parse(body)
        _idempotency_key_check(request.headers.get("Idempotency-Key"), batch)
        batch_identity_check(batch, device)
        return batch_ingest(
            device=device,
            batch=batch,
            body_sha256=_canonical_sha256(batch),
            now=datetime.fromtimestamp(now, UTC),
            max_skew=max_skew,
        )


def _body_read(request: HttpRequest, limit: int) -> bytes:
    """The raw body, refused by its declared length before reading and by its real length after."""
    declared = request.META.get("CONTENT_LENGTH")
    if not declared:
        # Without a length Django's WSGI stream reads nothing, and the signature would then be
        # checked against an empty body: say so instead.
        raise LengthRequired(
            "length_required",
            "Content-Length",
            "send the body with a Content-Length (no chunked encoding)",
        )
    if not declared.isdigit():
        raise LengthRequired("bad_length", "Content-Length", "must be a number of bytes")
    if int(declared) > limit:
        raise TooLarge(
            "body_too_large",
            "body",
            f"{declared} bytes declared; at most {limit} are accepted per batch; "
            "send fewer buckets per batch",
            max_bytes=limit,
        )
    body = request.read(limit + 1)
    if len(body) > limit:
        raise TooLarge(
            "body_too_large",
            "body",
            f"more than {limit} bytes sent; send fewer buckets per batch",
            max_bytes=limit,
        )
    return body


def _idempotency_key_check(key: str | None, batch: BatchIn) -> None:
    if not key:
        raise Invalid(
            "missing_idempotency_key",
            "Idempotency-Key",
            "the header is required and must equal the body's batch_id",
        )
    try:
        same = UUID(key.strip()) == batch.batch_id
    except ValueError:
        same = False
    if not same:
        raise Invalid(
            "idempotency_key_mismatch",
            "Idempotency-Key",
            f"{key!r} differs from the body's batch_id {str(batch.batch_id)!r}",
        )


def _canonical_sha256(batch: BatchIn) -> str:
    # Of the validated content, not the raw bytes: a retry that re-serialises the same batch
    # (key order, spacing, 12 vs 12.0) is the same batch.
    return hashlib.sha256(batch.model_dump_json(by_alias=True).encode()).hexdigest()
