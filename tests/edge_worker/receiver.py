"""A stand-in for the platform's ingest endpoint, strict about DESIGN.md section 4.

It verifies signatures exactly as the contract says (HMAC-SHA256 over "<timestamp>.<raw body>",
300 s clock window, replays refused), stores batches idempotently by batch_id (201 new, 200 the
same again, 422 a reused id with another body), and can be switched down or told to answer the
next requests with given responses.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

BATCH_FIELDS = {"schema", "batch_id", "device_id", "site", "region", "model", "buckets"}
BUCKET_FIELDS = {"start", "seconds", "uptime", "counts", "speeds", "occupancy", "dwell"}
CLASSES = {"person", "bicycle", "car", "motorcycle", "bus", "truck"}


@dataclass
class Scripted:
    status: int
    body: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)


class Receiver:
    def __init__(self, secrets: dict[str, list[str]], upstream: str | None = None):
        # With an upstream (the real platform) the receiver only forwards, and can still be
        # switched down or hold answers; it keeps a copy of what the upstream stored.
        self.upstream = upstream
        self.secrets = secrets
        self.down = False
        self.script: list[Scripted] = []
        self.requests: list[dict] = []
        self.batches: dict[str, bytes] = {}
        self.buckets: dict[str, list[dict]] = {}  # bucket start -> every stored copy
        self.seen_signatures: set[str] = set()
        self.answers: list[int] = []
        # When set to an Event, a newly stored batch's answer waits for it: the batch is stored
        # but the sender does not learn it (a lost answer, a sender killed while waiting).
        self.hold_after_store: threading.Event | None = None
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, dict]:
        with self._lock:
            self.requests.append({"path": path, "headers": headers, "body": body})
            if self.down:
                return 503, {"error": "down for maintenance"}, {}
            if self.script:
                step = self.script.pop(0)
                return step.status, step.body, step.headers
            if path != "/api/v1/ingest/batches":
                return 404, {"error": "no such endpoint"}, {}
            if self.upstream:
                return self._forward(path, headers, body)
            return self._ingest(headers, body)

    def _forward(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, dict]:
        names = (
            "x-junction-device",
            "x-junction-timestamp",
            "x-junction-signature",
            "idempotency-key",
            "content-type",
        )
        response = requests.post(
            self.upstream + path,
            data=body,
            headers={name: headers[name] for name in names if name in headers},
            timeout=30,
        )
        if response.status_code == 201:
            batch = json.loads(body)
            self.batches[batch["batch_id"]] = body
            for bucket in batch["buckets"]:
                self.buckets.setdefault(bucket["start"], []).append(bucket)
        return response.status_code, response.json(), {}

    def _ingest(self, headers: dict[str, str], body: bytes) -> tuple[int, dict, dict]:
        device = headers.get("x-junction-device", "")
        stamp = headers.get("x-junction-timestamp", "")
        given = headers.get("x-junction-signature", "")
        if not stamp.isdigit() or abs(int(stamp) - time.time()) > 300:
            return 401, {"error": "stale or missing timestamp"}, {}
        message = stamp.encode() + b"." + body
        valid = any(
            hmac.compare_digest(
                "v1=" + hmac.new(s.encode(), message, hashlib.sha256).hexdigest(), given
            )
            for s in self.secrets.get(device, [])
        )
        if not valid:
            return 401, {"error": "bad signature"}, {}
        if given in self.seen_signatures:
            return 401, {"error": "replayed signature"}, {}
        self.seen_signatures.add(given)
        try:
            batch = json.loads(body)
        except ValueError:
            return 422, {"field": "body", "rule": "not JSON"}, {}
        problem = _problem(batch, device, headers.get("idempotency-key"))
        if problem:
            return 422, problem, {}
        stored = self.batches.get(batch["batch_id"])
        if stored is not None:
            if stored != body:
                return 422, {"field": "batch_id", "rule": "reused with a different body"}, {}
            return 200, {"batch_id": batch["batch_id"], "stored": False}, {}
        self.batches[batch["batch_id"]] = body
        for bucket in batch["buckets"]:
            self.buckets.setdefault(bucket["start"], []).append(bucket)
        return 201, {"batch_id": batch["batch_id"], "stored": True}, {}

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, payload, extra = receiver.handle(self.path, headers, body)
                hold = receiver.hold_after_store
                if status == 201 and hold is not None:
                    hold.wait(60)
                receiver.answers.append(status)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler


def _problem(batch: dict, device: str, key: str | None) -> dict | None:
    if not isinstance(batch, dict) or set(batch) != BATCH_FIELDS:
        return {"field": "body", "rule": f"fields must be {sorted(BATCH_FIELDS)}"}
    if batch["schema"] != "junction.batch/v1":
        return {"field": "schema", "rule": "must be junction.batch/v1"}
    if batch["device_id"] != device or key != batch["batch_id"]:
        return {"field": "batch_id", "rule": "must match the device and Idempotency-Key"}
    for i, bucket in enumerate(batch["buckets"]):
        if not set(bucket) <= BUCKET_FIELDS or not {"start", "seconds", "uptime"} <= set(bucket):
            return {"field": f"buckets[{i}]", "rule": "unknown or missing fields"}
        start = calendar.timegm(time.strptime(bucket["start"], "%Y-%m-%dT%H:%M:%SZ"))
        if start % bucket["seconds"]:
            return {"field": f"buckets[{i}].start", "rule": "not aligned to seconds"}
        if not 0 <= bucket["uptime"] <= 1:
            return {"field": f"buckets[{i}].uptime", "rule": "outside 0..1"}
        for count in bucket["counts"]:
            if count["class"] not in CLASSES:
                return {"field": f"buckets[{i}].counts", "rule": "unknown class"}
    return None
