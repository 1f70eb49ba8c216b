"""The uplink: sends spooled batches to the region's ingest endpoint, signed per DESIGN.md s. 4.

It never decides what is in a batch (the spool and the privacy module do) and never deletes one
itself: it tells the spool what the platform answered. Every answer has one rule here, so what
happens on 401, 421 or 503 can be read in one place.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from edge_worker.signing import signed_headers
from edge_worker.spool import BatchIdentity, PendingBatch, Spool, SpoolFull

log = logging.getLogger(__name__)

INGEST_PATH = "/api/v1/ingest/batches"
# A Retry-After longer than this is treated as this: a wrong header must not mute a site for days.
MAX_RETRY_AFTER_S = 3600.0
# Successive 421 hops before the uplink suspects a redirect loop and backs off.
MAX_REGION_HOPS = 3


def endpoint_base(url: str) -> str:
    """`https://host[:port][/prefix]` of an endpoint given with or without the ingest path."""
    url = url.strip().rstrip("/")
    if url.endswith(INGEST_PATH):
        url = url[: -len(INGEST_PATH)]
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError):
            log.warning("ignoring unparseable Retry-After %r", value)
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


@dataclass
class Backoff:
    """Exponential backoff with full jitter (a random wait in [0, min(cap, base * 2^n)]), so a
    fleet of workers coming back after an outage does not hit the platform in lockstep."""

    base_s: float = 1.0
    cap_s: float = 300.0
    rng: Callable[[], float] = random.random

    def delay(self, failures: int) -> float:
        return self.rng() * min(self.cap_s, self.base_s * 2 ** max(failures - 1, 0))


@dataclass
class UplinkStatus:
    """What health shows about the link to the platform."""

    endpoint: str
    last_success: float | None = None
    last_status: int | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    credentials_refused: bool = False
    batches_sent: int = 0


class Uplink:
    """Sends one batch at a time, oldest first, until the spool is empty."""

    def __init__(
        self,
        *,
        spool: Spool,
        identity: BatchIdentity,
        cameras: list[str],
        endpoint: str,
        allowed_endpoints: list[str],
        secret: Callable[[], str],
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
        credentials_retry_s: float = 300.0,
        timeout_s: tuple[float, float] = (5.0, 30.0),
        max_buckets: int = 60,
        wait_for_cameras_s: float = 300.0,
    ):
        self.spool = spool
        self.identity = identity
        self.cameras = cameras
        self.allowed = {endpoint_base(endpoint)} | {endpoint_base(e) for e in allowed_endpoints}
        self.secret = secret
        self.session = session or requests.Session()
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.credentials_retry_s = credentials_retry_s
        self.timeout_s = timeout_s
        self.max_buckets = max_buckets
        self.wait_for_cameras_s = wait_for_cameras_s
        self.status = UplinkStatus(endpoint=endpoint_base(endpoint))
        self._hops = 0

    def run(self, stop: threading.Event, idle_s: float = 1.0) -> None:
        """Send until `stop` is set; waits between attempts as the last answer asked."""
        while not stop.is_set():
            try:
                wait = self.send_next()
            except SpoolFull as exc:
                # Expected while the disk is full: one line, not a traceback each retry. The
                # batch stays spooled and is re-sent (same id) once deletes fit again.
                log.error("uplink waits for spool space: %s", exc)
                self.status.last_error = str(exc)
                wait = self.credentials_retry_s
            except Exception:
                # The one place a broad catch is right: this thread is the site's only way out,
                # and an unreadable secret file or a locked spool must not end it for good.
                log.exception("uplink attempt failed; retrying in %.0f s", self.credentials_retry_s)
                self.status.last_error = "uplink attempt failed; see the worker log"
                wait = self.credentials_retry_s
            stop.wait(idle_s if wait is None else wait)

    def send_next(self) -> float | None:
        """Send the next batch once. Returns the seconds to wait before the next call: 0 to go
        on at once, more after a failure, None when there was nothing to send."""
        batch = self.spool.next_batch(
            self.identity,
            cameras=self.cameras,
            now=self.clock(),
            max_buckets=self.max_buckets,
            wait_for_cameras_s=self.wait_for_cameras_s,
        )
        if batch is None:
            return None
        try:
            response = self._post(batch)
        except requests.RequestException as exc:
            return self._failed(batch, None, f"{type(exc).__name__}: {exc}", None)
        status = response.status_code
        self.status.last_status = status
        if status in (200, 201):
            return self._delivered(batch, status)
        if status == 421:
            return self._misdirected(batch, response)
        if status in (400, 422):
            # The platform names the field and the rule; the same bytes would fail forever.
            self.spool.dead_letter(
                batch.batch_id, status=status, reason=_reason(response), now=self.clock()
            )
            return 0.0
        if status == 413:
            return self._too_large(batch, response)
        if status in (401, 403):
            return self._refused_credentials(batch, response)
        if status in (409, 429) or status >= 500:
            return self._failed(batch, status, _reason(response), response)
        log.error(
            "batch %s: unexpected HTTP %s from %s: %s; kept and retried slowly",
            batch.batch_id,
            status,
            self.status.endpoint,
            _reason(response),
        )
        self.spool.record_attempt(batch.batch_id, status=status, error=_reason(response))
        return self.credentials_retry_s

    # -- one rule per answer -------------------------------------------------------------------

    def _post(self, batch: PendingBatch) -> requests.Response:
        # Each attempt is signed afresh with a timestamp never used before (see next_stamp).
        stamp = self.spool.next_stamp(self.clock())
        headers = signed_headers(
            device_id=self.identity.device_id,
            secret=self.secret(),
            batch_id=batch.batch_id,
            body=batch.body,
            timestamp=stamp,
        )
        return self.session.post(
            self.status.endpoint + INGEST_PATH,
            data=batch.body,
            headers=headers,
            timeout=self.timeout_s,
            allow_redirects=False,
        )

    def _delivered(self, batch: PendingBatch, status: int) -> float:
        self.spool.ack(batch.batch_id, now=self.clock())
        log.info(
            "batch %s delivered (%s, %s buckets)%s",
            batch.batch_id,
            status,
            batch.buckets,
            " already stored" if status == 200 else "",
        )
        self.status.last_success = self.clock()
        self.status.last_error = None
        self.status.consecutive_failures = 0
        self.status.credentials_refused = False
        self.status.batches_sent += 1
        self._hops = 0
        return 0.0

    def _misdirected(self, batch: PendingBatch, response: requests.Response) -> float:
        target = _json(response).get("endpoint")
        base = endpoint_base(target) if isinstance(target, str) and target else None
        if base in self.allowed and self._hops < MAX_REGION_HOPS:
            log.warning(
                "platform %s says this site belongs to %s; following (update the site file)",
                self.status.endpoint,
                base,
            )
            self.status.endpoint = base
            self._hops += 1
            return 0.0
        reason = f"421 to {target!r}, which is not on allowed_endpoints"
        if base in self.allowed:
            reason = f"421 redirect loop after {self._hops} hops, last to {target!r}"
        log.error("batch %s: %s; kept in spool", batch.batch_id, reason)
        return self._failed(batch, 421, reason, response, slow=True)

    def _too_large(self, batch: PendingBatch, response: requests.Response) -> float:
        if batch.buckets <= 1:
            self.spool.dead_letter(
                batch.batch_id, status=413, reason=_reason(response), now=self.clock()
            )
            return 0.0
        # 413 stores nothing, so rebuilding the buckets into smaller batches cannot duplicate.
        self.max_buckets = max(1, batch.buckets // 2)
        log.warning(
            "batch %s too large; resending in batches of %s buckets",
            batch.batch_id,
            self.max_buckets,
        )
        self.spool.release(batch.batch_id)
        return 0.0

    def _refused_credentials(self, batch: PendingBatch, response: requests.Response) -> float:
        reason = _reason(response)
        log.error(
            "PLATFORM REFUSED DEVICE %s (HTTP %s): %s. Batches stay in the spool; check the "
            "device secret and site, retrying every %.0f s",
            self.identity.device_id,
            response.status_code,
            reason,
            self.credentials_retry_s,
        )
        self.status.credentials_refused = True
        return self._failed(batch, response.status_code, reason, response, slow=True)

    def _failed(
        self,
        batch: PendingBatch,
        status: int | None,
        reason: str,
        response: requests.Response | None,
        slow: bool = False,
    ) -> float:
        self.spool.record_attempt(batch.batch_id, status=status, error=reason)
        self.status.consecutive_failures += 1
        self.status.last_error = reason
        self._hops = 0
        delay = (
            self.credentials_retry_s
            if slow
            else self.backoff.delay(self.status.consecutive_failures)
        )
        asked = retry_after_seconds(
            response.headers.get("Retry-After") if response is not None else None, self.clock()
        )
        if asked is not None:
            delay = max(delay, asked)
        if not slow:
            log.warning(
                "batch %s not delivered (%s); retry %s in %.1f s",
                batch.batch_id,
                reason,
                self.status.consecutive_failures,
                delay,
            )
        return delay


def _json(response: requests.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _reason(response: requests.Response) -> str:
    """The server's own words, kept short enough for a log line and a health page."""
    text = response.text.strip() or response.reason or ""
    return text[:2000]
