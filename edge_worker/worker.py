"""The composition root of a running edge worker: `start()` lists the start-up steps in order,
`stop()` undoes them in reverse. Reading these two methods shows the worker's architecture.

    site file -> model digest -> secret -> spool -> uplink -> health server
              -> one process per camera (video -> analyser -> buckets -> privacy -> spool)
              -> uplink thread (spool -> signed batches -> the region's ingest endpoint)
              -> update agent thread, with a `fleet` section (check-in -> slot -> restart
                 the cameras -> health gate -> active, or rolled back)
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import requests

from edge_worker.camera import camera_main
from edge_worker.config import ConfigError, load_config, verify_model_digest
from edge_worker.fleet.agent import UpdateAgent
from edge_worker.fleet.download import Repository
from edge_worker.fleet.gate import HealthGate
from edge_worker.fleet.live import boot_site_file, live_site_file
from edge_worker.fleet.slots import Slots
from edge_worker.health import EdgeHealth, HealthServer
from edge_worker.spool import BatchIdentity, Spool
from edge_worker.uplink import Backoff, Uplink

log = logging.getLogger(__name__)

# A camera process that died is restarted after this, doubling up to the cap while it keeps dying.
RESTART_BASE_S = 2.0
RESTART_CAP_S = 120.0
STOP_GRACE_S = 10.0


@dataclass
class _Camera:
    name: str
    process: multiprocessing.process.BaseProcess
    restarts: int = 0
    restart_at: float = 0.0
    finished: bool = False


class EdgeWorker:
    def __init__(self, config_path: str | Path):
        self.config_path = str(config_path)
        # spawn, not fork: the parent runs threads (health, uplink), and forking a threaded
        # process can copy a held lock into the child.
        self._mp = multiprocessing.get_context("spawn")
        self._stop = threading.Event()
        self._camera_stop = self._mp.Event()
        self._reports = self._mp.Queue(maxsize=1000)
        self._cameras: dict[str, _Camera] = {}
        self._threads: list[threading.Thread] = []
        # The supervisor and the update agent (restarting cameras on a release) take turns.
        self._cameras_lock = threading.Lock()
        self.agent: UpdateAgent | None = None

    def start(self) -> None:
        """Start-up, in order; each step needs only the ones above it, and any failure stops
        the worker before a camera runs (a wrong model or secret must not count for hours)."""
        # The live fleet release's model and config patch, if any, over the site file's.
        self.camera_site_file, self.config = boot_site_file(
            self.config_path, load_config(self.config_path)
        )
        self.config.read_secret()
        self.spool = Spool(self.config.spool.path, max_bytes=self.config.spool.max_bytes)
        self.uplink = self._build_uplink()
        self.health = EdgeHealth(
            device_id=self.config.device_id,
            cameras=[c.name for c in self.config.cameras],
            spool=self.spool,
            uplink_status=lambda: self.uplink.status,
            update_status=lambda: self.agent.status() if self.agent else None,
        )
        self.health_server = HealthServer(
            self.health, self.config.health.host, self.config.health.port
        ).start()
        for camera in self.config.cameras:
            self._cameras[camera.name] = _Camera(camera.name, self._start_camera(camera.name))
        self._start_thread("camera-reports", self._relay_reports)
        self._start_thread("uplink", self.uplink.run, self._stop)
        if self.config.fleet is not None:
            self.agent = self._build_agent()
            self._start_thread("update-agent", self.agent.run, self._stop)
        log.info(
            "worker %s up: site %s, %s camera(s), %s s buckets, sending to %s",
            self.config.device_id,
            self.config.site,
            len(self._cameras),
            self.config.bucket_seconds,
            self.config.endpoint,
        )

    def stop(self) -> None:
        """Shut down in reverse order of start()."""
        self._stop.set()
        for thread in reversed(self._threads):
            thread.join(timeout=STOP_GRACE_S)
        with self._cameras_lock:
            self._stop_cameras()
        self.health_server.stop()
        self.spool.close()
        log.info("worker %s stopped", self.config.device_id)

    def supervise(self, stop: threading.Event, tick_s: float = 1.0) -> None:
        """Keep camera processes running until `stop` is set (SIGTERM, Ctrl-C)."""
        while not stop.wait(tick_s):
            with self._cameras_lock:
                self._supervise_once()

    def _supervise_once(self) -> None:
        now = time.monotonic()
        for camera in self._cameras.values():
            if camera.finished or camera.process.is_alive():
                continue
            if camera.restart_at == 0.0:
                self._camera_exited(camera, now)
            elif now >= camera.restart_at:
                log.warning("restarting camera %s (restart %s)", camera.name, camera.restarts)
                camera.process = self._start_camera(camera.name)
                camera.restart_at = 0.0

    def restart_cameras(self) -> None:
        """Stop every camera process and start them on the live release (the update agent's
        step). Each closed bucket is in the spool; a file camera resumes after its last one."""
        site_file, live = live_site_file(self.config_path, load_config(self.config_path))
        verify_model_digest(live.model)
        if [c.name for c in live.cameras] != [c.name for c in self.config.cameras]:
            # Health, uplink and the site bucket's merge know the cameras by name.
            raise ConfigError(
                "a release cannot add, remove or rename cameras while the worker "
                "runs; restart it on the new site file instead"
            )
        with self._cameras_lock:
            self._stop_cameras()
            self._camera_stop = self._mp.Event()
            self.camera_site_file, self.config = site_file, live
            # Batches name the model that counted; buckets still unsent from the old one are
            # named after the new one too (the spool keeps no model per bucket).
            self.uplink.identity = replace(
                self.uplink.identity, model_name=live.model.name, model_sha256=live.model.sha256
            )
            self._cameras = {
                c.name: _Camera(c.name, self._start_camera(c.name)) for c in live.cameras
            }

    def _stop_cameras(self) -> None:
        self._camera_stop.set()
        deadline = time.monotonic() + STOP_GRACE_S
        for camera in self._cameras.values():
            camera.process.join(timeout=max(deadline - time.monotonic(), 0.1))
            if camera.process.is_alive():
                log.warning("camera %s did not stop in time; terminating it", camera.name)
                camera.process.terminate()
                camera.process.join(timeout=2)

    def _camera_exited(self, camera: _Camera, now: float) -> None:
        code = camera.process.exitcode
        source = next(c for c in self.config.cameras if c.name == camera.name)
        if code == 0 and source.is_file:
            log.info("camera %s: file analysed to its end", camera.name)
            camera.finished = True
            # The exit code is the proof; the process's own "finished" report may be lost.
            self.health.camera_finished(camera.name)
            return
        camera.restarts += 1
        delay = min(RESTART_CAP_S, RESTART_BASE_S * 2 ** (camera.restarts - 1))
        camera.restart_at = now + delay
        self.health.camera_down(camera.name)
        log.error("camera %s exited with %s; restarting in %.0f s", camera.name, code, delay)

    def _start_camera(self, name: str) -> multiprocessing.process.BaseProcess:
        process = self._mp.Process(
            target=camera_main,
            args=(self.camera_site_file, name, self._reports, self._camera_stop, os.getpid()),
            name=f"camera-{name}",
        )
        process.start()
        return process

    def _build_uplink(self) -> Uplink:
        config = self.config
        session = requests.Session()
        if config.uplink.ca_file is not None:
            session.verify = str(config.uplink.ca_file)
        return Uplink(
            spool=self.spool,
            identity=BatchIdentity(
                device_id=config.device_id,
                site=config.site,
                region=config.region,
                model_name=config.model.name,
                model_sha256=config.model.sha256,
            ),
            cameras=[c.name for c in config.cameras],
            endpoint=config.endpoint,
            allowed_endpoints=config.allowed_endpoints,
            secret=config.read_secret,
            session=session,
            backoff=Backoff(base_s=config.uplink.backoff_base_s, cap_s=config.uplink.backoff_cap_s),
            credentials_retry_s=config.uplink.credentials_retry_s,
            max_buckets=config.uplink.batch_buckets,
            wait_for_cameras_s=config.uplink.camera_wait_s,
        )

    def _build_agent(self) -> UpdateAgent:
        config = self.config
        assert config.fleet is not None
        fleet = config.fleet
        slots = Slots(fleet.slots)
        repository = Repository(
            endpoint=config.endpoint,
            region=config.region,
            device_id=config.device_id,
            secret=config.read_secret(),
            trusted_root=fleet.trusted_root,
            metadata_dir=slots.root / "metadata",
        )
        gate = HealthGate(
            window_s=fleet.gate_s,
            min_fps=fleet.gate_min_fps,
            crashes=self._camera_crashes,
            reports=self.health.reports,
        )
        return UpdateAgent(
            repository=repository,
            slots=slots,
            state_dir=config.spool.path.parent,
            restart_cameras=self.restart_cameras,
            gate=gate,
            check_in_s=fleet.check_in_s,
            jitter_s=fleet.jitter_s,
        )

    def _camera_crashes(self) -> dict[str, tuple[int, int | None]]:
        with self._cameras_lock:
            return {c.name: (c.restarts, c.process.exitcode) for c in self._cameras.values()}

    def _relay_reports(self) -> None:
        while not self._stop.is_set():
            try:
                self.health.report(self._reports.get(timeout=0.5))
            except queue.Empty:
                continue

    def _start_thread(self, name: str, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
