"""The batch signature of DESIGN.md section 4, in one place for the uplink, the platform and demos.

X-Junction-Signature is `v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`: the timestamp is
inside the MAC so a captured request cannot be replayed later under a fresh timestamp.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_VERSION = "v1"


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def signature(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The X-Junction-Signature header value for `body` sent at `timestamp` (unix seconds)."""
    message = str(int(timestamp)).encode("ascii") + b"." + body
    digest = hmac.new(_as_bytes(secret), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def signed_headers(
    *, device_id: str, secret: str | bytes, batch_id: str, body: bytes, timestamp: int
) -> dict[str, str]:
    """All headers of one upload attempt; sign every attempt afresh with the current time."""
    return {
        "Content-Type": "application/json",
        "X-Junction-Device": device_id,
        "X-Junction-Timestamp": str(int(timestamp)),
        "X-Junction-Signature": signature(secret, timestamp, body),
        "Idempotency-Key": batch_id,
    }


def verify(secret: str | bytes, timestamp: str | int, body: bytes, header: str) -> bool:
    """True when `header` is a valid v1 signature of `body` at `timestamp`, in constant time."""
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    # Bytes, not str: compare_digest refuses non-ASCII str, and a forged header may carry any text.
    expected = signature(secret, stamp, body).encode("ascii")
    return hmac.compare_digest(expected, (header or "").encode("utf-8"))
