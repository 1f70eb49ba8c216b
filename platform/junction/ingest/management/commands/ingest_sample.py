"""manage.py ingest_sample --device ID [--secret S] [--url URL]: sign and send the example batch.

Builds the documented example batch for a registered device (fitted to its site's counters),
signs it as DESIGN.md section 4 says, POSTs it, and prints the HTTP status and the JSON answer.
Without --secret, the secret is taken from the demo's var/demo-devices.json (make demo).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from junction.ingest.sample import sample_batch, sample_encode
from junction.ingest.signing import signature_of
from junction.sites.models import Device

INGEST_PATH = "/api/v1/ingest/batches"
DEFAULT_BASE = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = "Sign and send the documented example batch for a registered device."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--device", required=True, help="device id, e.g. dev-main-5th-n")
        parser.add_argument("--secret", help="the device secret (default: the demo's file)")
        parser.add_argument(
            "--url",
            help="ingest endpoint or base URL (default: the region's "
            f"endpoint, else {DEFAULT_BASE})",
        )
        parser.add_argument("--show-body", action="store_true", help="print the body sent")

    def handle(self, *args, **options) -> None:
        device = (
            Device.objects.select_related("site__region")
            .filter(device_id=options["device"])
            .first()
        )
        if device is None:
            raise CommandError(f"no device {options['device']!r} is registered")
        secret = options["secret"] or _demo_secret(device.device_id)
        url = _ingest_url(options["url"] or device.site.region.endpoint or DEFAULT_BASE)
        batch = sample_batch(device)
        body = sample_encode(batch)
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Junction-Device": device.device_id,
            "X-Junction-Timestamp": str(stamp),
            "X-Junction-Signature": signature_of(secret, stamp, body),
            "Idempotency-Key": batch["batch_id"],
        }
        if options["show_body"]:
            self.stdout.write(json.dumps(batch, indent=2))
        try:
            response = requests.post(
                url, data=body, headers=headers, timeout=30, allow_redirects=False
            )
        except requests.RequestException as exc:
            raise CommandError(f"POST {url} failed: {exc} (is the server running?)") from exc
        try:
            answer = json.dumps(response.json(), indent=2)
        except ValueError:
            answer = response.text[:2000]
        self.stdout.write(f"POST {url} -> HTTP {response.status_code}\n{answer}")
        if response.status_code >= 400:
            raise CommandError(f"the platform refused the batch (HTTP {response.status_code})")


def _ingest_url(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith(INGEST_PATH) else url + INGEST_PATH


def _demo_secret(device_id: str) -> str:
    path = Path(settings.VAR_DIR) / "demo-devices.json"
    try:
        secret = json.loads(path.read_text())["devices"][device_id]["secret"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CommandError(
            f"no --secret given and {path} has no secret for {device_id!r}; pass the secret "
            "that device_add printed"
        ) from exc
    if not secret:
        raise CommandError(f"{path} has no secret for {device_id!r}; pass --secret")
    return secret
