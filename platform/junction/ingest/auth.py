"""The one choke point where a device request's HMAC signature is checked (DESIGN.md section 4).

Ingest's batches and fleet's check-ins and repository reads all come through
`device_request_verify`: timestamp window, signature format, failure limits, the device's
secrets, the replay claim, revocation and whether this node serves the device's region. A GET
has no body, so it signs `GET <path>` in its place (`request_signed_bytes`).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle

from junction.accounts.throttling import FailureThrottle
from junction.ingest.errors import (
    Forbidden,
    Misdirected,
    TooManyFailures,
    Unauthenticated,
    Unavailable,
)
from junction.ingest.replay import signature_claim
from junction.ingest.selectors import DeviceContext, device_context_get
from junction.ingest.signing import signature_parse, signature_verify, timestamp_check
from junction.residency.errors import MisdirectedRegion
from junction.residency.planes import served_alias
from junction.sites.credentials import CredentialError

log = logging.getLogger(__name__)


def request_signed_bytes(request: HttpRequest) -> bytes:
    """What a bodiless GET signs in place of the body: its method and path."""
    return f"{request.method} {request.path}".encode()


def device_request_verify(
    request: HttpRequest, *, body: bytes, now: float, replay_guard: bool = True
) -> DeviceContext:
    """The device that signed this request, or an IngestRefused saying why not.

    `replay_guard` remembers the signature and refuses it a second time; a write needs it. A
    read may go without: replaying a captured GET only returns what the capture already held.
    """
    max_skew = settings.JUNCTION_INGEST_MAX_SKEW_SECONDS
    stamp = timestamp_check(request.headers.get("X-Junction-Timestamp"), now=now, max_skew=max_skew)
    signature = signature_parse(request.headers.get("X-Junction-Signature"))
    device_id = request.headers.get("X-Junction-Device")
    idents = _failure_limits_check(request, device_id)
    try:
        device = _device_authenticate(device_id)
        signature_verify(secrets=device.secrets, timestamp=stamp, body=body, signature=signature)
    except Unauthenticated as refusal:
        log.warning("device request: %s from device %r", refusal.code, device_id)
        _failure_record(idents)
        raise
    if replay_guard:
        signature_claim(signature, max_skew=max_skew)
    if device.revoked_at is not None:
        raise Forbidden(
            "device_revoked",
            "X-Junction-Device",
            f"device {device.device_id!r} was revoked {device.revoked_at.isoformat()}",
        )
    _region_check(device)
    return device


def _failure_limits_check(
    request: HttpRequest, device_id: str | None
) -> list[tuple[FailureThrottle, str]]:
    """Refuse (429) a device id or address that failed its signature too often lately, before
    its secrets are even looked up; the limits to count a new failure against otherwise."""
    idents = [
        (
            FailureThrottle("ingest-device", settings.JUNCTION_INGEST_BAD_SIGNATURES_DEVICE),
            device_id or "",
        ),
        (
            FailureThrottle("ingest-address", settings.JUNCTION_INGEST_BAD_SIGNATURES_ADDRESS),
            # DRF's client address (its NUM_PROXIES), read from the plain request's META.
            BaseThrottle().get_ident(request),  # type: ignore[arg-type]
        ),
    ]
    for limit, ident in idents:
        seconds = limit.refused_for(ident)
        if seconds is not None:
            subject = "device" if limit.scope == "ingest-device" else "address"
            raise TooManyFailures(
                "too_many_bad_signatures",
                "X-Junction-Signature",
                f"too many failed signatures from this {subject} lately; retry in {seconds} s",
                retry_after=seconds,
            )
    return idents


def _failure_record(idents: list[tuple[FailureThrottle, str]]) -> None:
    for limit, ident in idents:
        limit.failed(ident)


def _device_authenticate(device_id: str | None) -> DeviceContext:
    if not device_id:
        raise Unauthenticated("missing_device", "X-Junction-Device", "the header is required")
    try:
        return device_context_get(device_id)
    except CredentialError as exc:
        log.error("device request: secrets of device %s cannot be read: %s", device_id, exc)
        raise Unavailable(
            "credentials_unreadable",
            "X-Junction-Device",
            "the platform cannot read this device's credentials; its operators have been alerted",
        ) from exc


def _region_check(device: DeviceContext) -> None:
    try:
        served_alias(device.region)
    except MisdirectedRegion as exc:
        raise Misdirected(
            "misdirected_region",
            "region",
            str(exc),
            region=exc.region,
            endpoint=exc.endpoint,
        ) from exc
