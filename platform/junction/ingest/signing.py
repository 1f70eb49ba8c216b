"""Verification of the batch signature of DESIGN.md section 4 (the platform side).

`X-Junction-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`. The timestamp is
inside the MAC, so a captured request cannot be replayed under a fresh timestamp; the skew
window bounds how long a captured one stays usable, and junction.ingest.replay closes that window.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from junction.ingest.errors import Unauthenticated

SIGNATURE_VERSION = "v1"
_TIMESTAMP = re.compile(r"\d{1,12}")
_SIGNATURE = re.compile(r"v1=([0-9a-f]{64})")


def signature_of(secret: str, timestamp: int, body: bytes) -> str:
    """The header value a holder of `secret` sends for `body` at `timestamp` (unix seconds)."""
    message = str(int(timestamp)).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def timestamp_check(header: str | None, *, now: float, max_skew: int) -> int:
    """The request's timestamp, refused when missing, malformed or outside the skew window."""
    field = "X-Junction-Timestamp"
    if not header:
        raise Unauthenticated("missing_timestamp", field, "the header is required")
    if not _TIMESTAMP.fullmatch(header):
        raise Unauthenticated("bad_timestamp", field, "must be unix seconds (digits only)")
    stamp = int(header)
    if abs(now - stamp) > max_skew:
        raise Unauthenticated(
            "stale_timestamp",
            field,
            f"{stamp} is {int(now - stamp)} s from server time {int(now)}; "
            f"at most {max_skew} s is accepted (check the device clock)",
        )
    return stamp


def signature_parse(header: str | None) -> str:
    field = "X-Junction-Signature"
    if not header:
        raise Unauthenticated("missing_signature", field, "the header is required")
    if not _SIGNATURE.fullmatch(header.strip()):
        raise Unauthenticated("bad_signature", field, "must be v1=<64 lowercase hex digits>")
    return header.strip()


def signature_verify(
    *, secrets: Iterable[str], timestamp: int, body: bytes, signature: str
) -> None:
    """Accept the signature if any currently valid secret (two during a rotation) made it.

    Every secret is compared, in constant time each, so timing does not tell which one matched.
    """
    given = signature.encode("ascii")
    matched = False
    for secret in secrets:
        expected = signature_of(secret, timestamp, body).encode("ascii")
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise Unauthenticated(
            "bad_signature",
            "X-Junction-Signature",
            "does not match the body and timestamp under this device's secret",
        )
