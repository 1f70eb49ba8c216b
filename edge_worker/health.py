"""Health of a running worker: `/healthz` as JSON for people and probes, `/metrics` for Prometheus.

Both are computed when asked, from the cameras' latest reports, the spool and the uplink status,
so they can never show a number that a background updater forgot to refresh.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from edge_worker.fleet.agent import UPDATE_STATES, UpdateStatus
from edge_worker.spool import Spool
from edge_worker.uplink import UplinkStatus

log = logging.getLogger(__name__)

# A live camera that has not delivered an analysed frame for this long is stalled.
STALLED_AFTER_S = 30.0
# Unsent data older than this means the uplink is not keeping up (or the platform is away).
BACKLOG_WARN_S = 900.0


@dataclass
class CameraReport:
    """What a camera process reports about itself every few seconds (cumulative counters)."""

    camera: str
    state: str  # starting | running | reconnecting | finished
    frames_read: int = 0
    frames_analysed: int = 0
    frames_skipped: int = 0
    count_events: int = 0  # road users counted since the process started (the update gate)
    analysed_fps: float = 0.0
    inference_ms: float = 0.0
    last_frame_at: float | None = None
    running_since: float | None = None
    reported_at: float = 0.0
    # While the spool's disk is full: closed buckets held in memory, those dropped past the
    # limit (not yet in the spool's dropped tally), and since when writes fail.
    unspooled_buckets: int = 0
    unspooled_dropped: int = 0
    spool_full_since: float | None = None


class EdgeHealth:
    """The worker's state as health checks and metrics see it."""

    def __init__(
        self,
        *,
        device_id: str,
        cameras: list[str],
        spool: Spool,
        uplink_status: Callable[[], UplinkStatus],
        update_status: Callable[[], UpdateStatus | None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ):
        self.device_id = device_id
        self.spool = spool
        self.uplink_status = uplink_status
        self.update_status = update_status
        self.clock = clock
        self._cameras = {name: CameraReport(camera=name, state="starting") for name in cameras}
        self._lock = threading.Lock()
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(self)

    def report(self, camera_report: CameraReport) -> None:
        with self._lock:
            if self._cameras[camera_report.camera].state == "finished":
                # A file's end is final (camera_finished): a report still on its way from the
                # camera process, written before it got there, only updates the counters.
                camera_report = replace(camera_report, state="finished")
            self._cameras[camera_report.camera] = camera_report

    def reports(self) -> list[CameraReport]:
        with self._lock:
            return [replace(r) for r in self._cameras.values()]

    def camera_down(self, camera: str) -> None:
        with self._lock:
            self._cameras[camera].state = "down"

    def camera_finished(self, camera: str) -> None:
        """The supervisor saw the camera's process exit after the file's end. This, not the
        process's own last report, is what makes the camera "finished": that report is advisory
        and can be lost when the process exits (see camera_main)."""
        with self._lock:
            self._cameras[camera].state = "finished"

    def healthz(self) -> tuple[int, dict]:
        """HTTP status and body: 503 only when a camera is down or stalled, which a restart may
        fix; problems a restart cannot fix (dead letters, refused credentials) show as
        "degraded" with a 200, so an orchestrator does not restart the worker in a loop."""
        now = self.clock()
        stats = self.spool.stats()
        uplink = self.uplink_status()
        with self._lock:
            cameras = {name: asdict(r) for name, r in self._cameras.items()}
        problems = []
        for name, report in cameras.items():
            # A camera that just started has until STALLED_AFTER_S for its first frame.
            last = report["last_frame_at"] or report["running_since"] or now
            if report["state"] == "down" or (
                report["state"] == "running" and now - last > STALLED_AFTER_S
            ):
                problems.append(f"camera {name} is {report['state']} or stalled")
        restart_may_help = bool(problems)
        problems.extend(self._spool_full_problems(cameras))
        if stats.dead_letters:
            problems.append(f"{stats.dead_letters} dead-lettered batches need an operator")
        if uplink.credentials_refused:
            problems.append("the platform refuses this device's credentials")
        oldest_age = now - stats.oldest_unsent_start if stats.oldest_unsent_start else None
        if oldest_age is not None and oldest_age > BACKLOG_WARN_S:
            problems.append(f"unsent buckets are {oldest_age:.0f} s old")
        body = {
            "status": "ok" if not problems else "degraded",
            "problems": problems,
            "device_id": self.device_id,
            "cameras": cameras,
            "spool": {
                "unsent_buckets": stats.unsent_buckets,
                "oldest_unsent_bucket_age_s": oldest_age,
                "spooled_bytes": stats.spooled_bytes,
                "dropped_buckets": stats.dropped_buckets,
                "late_buckets": stats.late_buckets,
                "delivered_buckets": stats.delivered_buckets,
                "dead_letters": stats.dead_letters,
                "last_dead_letter_reason": stats.last_dead_letter_reason,
            },
            "uplink": asdict(uplink),
        }
        return (503 if restart_may_help else 200), body

    def _spool_full_problems(self, cameras: dict[str, dict]) -> list[str]:
        problems = []
        if self.spool.full_since is not None:
            problems.append(f"spool disk full: {self.spool.path} refuses writes (uplink)")
        for name, report in cameras.items():
            if report["spool_full_since"] is not None:
                problems.append(
                    f"spool disk full: camera {name} holds {report['unspooled_buckets']} buckets"
                    f" in memory, {report['unspooled_dropped']} dropped"
                )
        return problems

    def collect(self):
        """prometheus_client collector protocol: every metric, read now."""
        now = self.clock()
        stats = self.spool.stats()
        uplink = self.uplink_status()
        with self._lock:
            reports = list(self._cameras.values())
        fps = GaugeMetricFamily(
            "junction_edge_analysed_fps", "Frames analysed per second", labels=["camera"]
        )
        inference = GaugeMetricFamily(
            "junction_edge_inference_ms",
            "Mean analysis time per analysed frame (detector, tracker and counting)",
            labels=["camera"],
        )
        skipped = CounterMetricFamily(
            "junction_edge_frames_skipped",
            "Frames read but not analysed (stride, or dropped to keep up with a live stream)",
            labels=["camera"],
        )
        analysed = CounterMetricFamily(
            "junction_edge_frames_analysed", "Frames analysed", labels=["camera"]
        )
        up = GaugeMetricFamily(
            "junction_edge_camera_up", "1 while the camera delivers frames", labels=["camera"]
        )
        held = GaugeMetricFamily(
            "junction_edge_unspooled_buckets",
            "Closed buckets held in memory because the spool's disk is full",
            labels=["camera"],
        )
        held_dropped = GaugeMetricFamily(
            "junction_edge_unspooled_dropped_buckets",
            "Buckets dropped while the spool's disk is full, not yet in the dropped counter",
            labels=["camera"],
        )
        for r in reports:
            held.add_metric([r.camera], r.unspooled_buckets)
            held_dropped.add_metric([r.camera], r.unspooled_dropped)
            fps.add_metric([r.camera], r.analysed_fps)
            inference.add_metric([r.camera], r.inference_ms)
            skipped.add_metric([r.camera], r.frames_skipped)
            analysed.add_metric([r.camera], r.frames_analysed)
            up.add_metric([r.camera], 1.0 if r.state in ("running", "finished") else 0.0)
        yield from (fps, inference, skipped, analysed, up, held, held_dropped)
        full = self.spool.full_since is not None or any(r.spool_full_since for r in reports)
        yield GaugeMetricFamily(
            "junction_edge_spool_disk_full",
            "1 while writes to the spool fail for want of space",
            1.0 if full else 0.0,
        )
        yield GaugeMetricFamily(
            "junction_edge_spool_buckets",
            "Camera buckets waiting in the spool",
            stats.unsent_buckets,
        )
        yield GaugeMetricFamily(
            "junction_edge_spool_bytes", "Payload bytes in the spool", stats.spooled_bytes
        )
        oldest = now - stats.oldest_unsent_start if stats.oldest_unsent_start else 0.0
        yield GaugeMetricFamily(
            "junction_edge_oldest_unsent_bucket_age_seconds",
            "Age of the oldest bucket not yet acknowledged (0 when none)",
            oldest,
        )
        yield GaugeMetricFamily(
            "junction_edge_dead_letters",
            "Batches the platform refused for good",
            stats.dead_letters,
        )
        yield CounterMetricFamily(
            "junction_edge_dropped_buckets",
            "Buckets dropped by the spool size cap",
            stats.dropped_buckets,
        )
        yield CounterMetricFamily(
            "junction_edge_late_buckets",
            "Camera buckets that arrived after their start was sent",
            stats.late_buckets,
        )
        yield CounterMetricFamily(
            "junction_edge_delivered_buckets",
            "Camera buckets the platform acknowledged",
            stats.delivered_buckets,
        )
        yield GaugeMetricFamily(
            "junction_edge_last_successful_upload_timestamp_seconds",
            "Unix time of the last acknowledged batch (0 when none yet)",
            uplink.last_success or stats.last_upload or 0.0,
        )
        yield GaugeMetricFamily(
            "junction_edge_credentials_refused",
            "1 while the platform answers 401/403",
            1.0 if uplink.credentials_refused else 0.0,
        )
        update = self.update_status()
        if update is not None:
            yield from _update_metrics(update)


def _update_metrics(update: UpdateStatus):
    """The fleet release this device runs, where its update agent stands, and its rollbacks."""
    release = GaugeMetricFamily(
        "junction_edge_release",
        '1 for the fleet release that is live ("" while the site file\'s own model runs)',
        labels=["release"],
    )
    release.add_metric([update.live], 1.0)
    state = GaugeMetricFamily(
        "junction_edge_update_state",
        "1 for the update agent's state, about the release labelled",
        labels=["state", "release"],
    )
    for name in UPDATE_STATES:
        state.add_metric([name, update.release], 1.0 if name == update.state else 0.0)
    yield release
    yield state
    yield CounterMetricFamily(
        "junction_edge_update_rollbacks",
        "Releases rolled back by the health gate",
        update.rollbacks,
    )


class HealthServer:
    """A small threaded HTTP server for /healthz and /metrics."""

    def __init__(self, health: EdgeHealth, host: str, port: int):
        self.health = health
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="health",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("health on http://%s:%s/healthz and /metrics", *self.server.server_address[:2])
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        health = self.health

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                if self.path == "/healthz":
                    status, body = health.healthz()
                    self._send(status, "application/json", json.dumps(body).encode())
                elif self.path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(health.registry))
                else:
                    self._send(404, "application/json", b'{"error": "not found"}')

            def _send(self, status: int, content_type: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, fmt, *args):
                log.debug("health: " + fmt, *args)

        return Handler
