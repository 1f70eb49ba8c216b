"""Send a demo site's history through the real uplink, then run the analytics over it.

Each block is signed with the device's secret and POSTed to the ingest endpoint through the
platform's own WSGI application, in-process (no server runs yet when the demo seeds): the same
URL, middleware and view a device's request reaches, so the demo's data went through every check
a real batch does. Rollups follow from ingest as they
do for a device; anomaly detection is then run over the whole span, as the beat schedule would
have run it over time.
"""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.core.handlers.wsgi import WSGIHandler
from django.db.models import Min
from django.urls import reverse

from junction.analytics import anomalies, rollups
from junction.demo.history import (
    BUCKET_SECONDS,
    DemoSite,
    anchor_of,
    batch,
    blocks,
    episodes,
    history_span,
    quarters_touched,
)
from junction.ingest.signing import signature_of
from junction.traffic.models import CountBucket

log = logging.getLogger(__name__)


@dataclass
class BackfillReport:
    site: str
    start: datetime
    end: datetime
    stored: int = 0  # batches the platform stored (201)
    already: int = 0  # days already delivered in full (not sent), or sent again and answered 200
    refused: list[str] = field(default_factory=list)


def history_send(*, site: DemoSite, secret: str, now: datetime) -> BackfillReport:
    """Send what the device has not delivered yet of its history, a UTC day per batch."""
    device_buckets = CountBucket.objects.in_region(site.region).filter(device_id=site.device_id)
    buckets = device_buckets.filter(seconds=BUCKET_SECONDS)
    first = buckets.aggregate(first=Min("start"))["first"]
    start, end = history_span(now=now, first_stored=first)
    stored = set(buckets.filter(start__gte=start).values_list("start", flat=True))
    # Other buckets of the device (`ingest_sample` sends a minute) hold their quarter hours:
    # a demo bucket over them would be refused as overlapping, and its whole day with it.
    for other, seconds in (
        device_buckets.filter(start__gte=start)
        .exclude(seconds=BUCKET_SECONDS)
        .values_list("start", "seconds")
    ):
        stored.update(quarters_touched(other, seconds))
    story = episodes(site, anchor_of(start))
    report = BackfillReport(site=site.slug, start=start, end=end)
    client = LocalPlatform()
    url = reverse("ingest:batches")
    for day in blocks(start, end):
        # Like a device's spool: what the platform has acknowledged is not sent again.
        unsent = [at for at in day if at not in stored]
        if not unsent:
            report.already += 1
            continue
        status, answer = _post(client, url, site.device_id, secret, batch(site, unsent, story))
        block = unsent[0]
        if status == 201:
            report.stored += 1
        elif status == 200:
            report.already += 1
        else:
            # Say, a sample batch sent meanwhile already holds a minute of this block: the
            # rest of the history is still worth sending.
            report.refused.append(f"{block:%Y-%m-%d %H:%M}Z: HTTP {status} {answer}")
            log.warning(
                "demo history block %s of %s refused: %s %s", block, site.slug, status, answer
            )
    return report


class LocalPlatform:
    """This process's own platform, spoken to over WSGI as a device speaks to it over HTTP."""

    def __init__(self) -> None:
        self._application = WSGIHandler()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            **{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()},
        }
        status: list[int] = []

        def start_response(line: str, headers: list, exc_info: object = None):
            status.append(int(line.split()[0]))
            return lambda data: None

        # Not closed: closing sends request_finished, which would drop this command's database
        # connections after every batch (and roll back a caller's transaction). The answer is
        # JSON in memory, with nothing else to release.
        response = self._application(environ, start_response)
        return status[0], json.loads(b"".join(response))


def _post(
    client: LocalPlatform, url: str, device_id: str, secret: str, body_json: dict
) -> tuple[int, dict]:
    body = json.dumps(body_json, separators=(",", ":")).encode()
    stamp = int(time.time())
    return client.post(
        url,
        body,
        {
            "X-Junction-Device": device_id,
            "X-Junction-Timestamp": str(stamp),
            "X-Junction-Signature": signature_of(secret, stamp, body),
            "Idempotency-Key": body_json["batch_id"],
        },
    )


def analytics_run(*, region: str, since: datetime, until: datetime) -> anomalies.SiteReport:
    """Finish the rollups ingest marked (a worker's job when there is one), then judge
    [since, until) for anomalies; both are idempotent, so a rerun records nothing new."""
    while rollups.dirty_windows_rollup(region=region):
        pass
    return anomalies.anomalies_detect_region(region=region, since=since, until=until)
