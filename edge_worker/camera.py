"""One camera's process: video -> analyser -> buckets -> privacy -> spool, and nothing else.

Each camera runs in its own process so a stuck decoder or a crash stays with its camera. It
writes closed buckets straight into the spool (one durable transaction per close), so killing
the worker loses at most the bucket still open, and a restart resumes where the spool says.

Bucket time: a live stream uses the wall clock at the grab; a file uses its own timeline
(`timeline_start` + frame position), so a recording analysed at any speed, or replayed after a
crash, gives exactly the same buckets.
"""

from __future__ import annotations

import ctypes
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Protocol

from edge_worker import privacy
from edge_worker.buckets import Bucket, BucketAggregator
from edge_worker.config import CameraConfig, SiteConfig, load_config
from edge_worker.events import FrameResult
from edge_worker.health import CameraReport
from edge_worker.spool import Spool, SpoolFull

log = logging.getLogger(__name__)

REPORT_EVERY_S = 2.0
# A live frame may still be in the analyser this long after it was grabbed; buckets are closed
# by the clock only this much later, so that frame's events still land in their own bucket.
LIVE_LATENESS_S = 2.0
EXIT_STOPPED = 3
# How long a stopping camera waits for its reader thread to leave the decoder (see run()).
READER_STOP_S = 2.0
# While the spool's disk is full, closed buckets wait in memory: up to this many (a day of
# 60 s buckets, a few hundred kB), retried this often and at every bucket close.
MAX_HELD_BUCKETS = 1440
SPOOL_RETRY_S = 10.0
# The disk-full ERROR is repeated at most this often while it lasts.
FULL_LOG_EVERY_S = 60.0


@dataclass(frozen=True)
class TimedFrame:
    t: float
    image: Any


class Analyser(Protocol):
    """What a camera loop drives (edge_worker.analyser.Analyser is the real one)."""

    def analyse(self, frame: Any, t: float) -> FrameResult:
        """Frames come in time order; t is unix time, or seconds into a recording."""
        ...

    def finish(self, t: float) -> FrameResult:
        """The frames have ended: the events still held (dwell of road users in zones)."""
        ...


_END = object()


class SpoolWriter:
    """Hands one camera's closed buckets to the spool. While the spool's disk is full it keeps
    them in memory, in order, and retries; past `max_held` it drops the oldest and counts them,
    and the count joins the spool's dropped tally with the first write that succeeds again."""

    def __init__(
        self,
        spool: Spool,
        camera: str,
        *,
        clock: Callable[[], float],
        max_held: int = MAX_HELD_BUCKETS,
        retry_s: float = SPOOL_RETRY_S,
    ):
        self.spool = spool
        self.camera = camera
        self.clock = clock
        self.max_held = max_held
        self.retry_s = retry_s
        self.held: list[Bucket] = []
        self.dropped = 0  # dropped from `held`, not yet counted in the spool
        self.full_since: float | None = None
        self._retry_at = 0.0
        self._logged_at: float | None = None

    def write(self, buckets: list[Bucket]) -> None:
        """Spool these buckets after any held ones; on a full disk keep them all and return."""
        self.held.extend(buckets)
        overflow = len(self.held) - self.max_held
        if overflow > 0:
            del self.held[:overflow]
            self.dropped += overflow
            log.error(
                "camera %s: spool still full, %s held buckets over the limit of %s dropped"
                " (oldest first; %s so far)",
                self.camera,
                overflow,
                self.max_held,
                self.dropped,
            )
        if not self.held:
            return
        now = self.clock()
        if self.full_since is not None and not buckets and now < self._retry_at:
            return
        try:
            self.spool.put(self.camera, list(self.held), dropped_unspooled=self.dropped)
        except SpoolFull as full:
            self._failed(full, now)
            return
        if self.full_since is not None:
            log.warning(
                "camera %s: spool %s takes writes again; wrote %s held buckets (%s dropped)",
                self.camera,
                self.spool.path,
                len(self.held),
                self.dropped,
            )
        self.held.clear()
        self.dropped = 0
        self.full_since = self._logged_at = None

    def retry(self) -> None:
        """Called often; writes the held buckets once `retry_s` has passed since the last try."""
        self.write([])

    def _failed(self, full: SpoolFull, now: float) -> None:
        self.full_since = self.full_since or now
        self._retry_at = now + self.retry_s
        if self._logged_at is None or now - self._logged_at >= FULL_LOG_EVERY_S:
            self._logged_at = now
            log.error(
                "camera %s: %s; holding %s closed buckets in memory (limit %s), retrying",
                self.camera,
                full,
                len(self.held),
                self.max_held,
            )


class CameraLoop:
    """Reads frames on a thread, analyses them, and spools the buckets they close.

    The source already delivers only every `stride`-th frame (it skips the others without
    converting them), so the frames read and skipped in reports are reckoned from the stride.
    """

    def __init__(
        self,
        *,
        camera: CameraConfig,
        analyser: Analyser,
        spool: Spool,
        bucket_seconds: int,
        classes: frozenset[str],
        report: Callable[[CameraReport], None],
        clock: Callable[[], float] = time.time,
    ):
        self.camera = camera
        self.analyser = analyser
        self.spool = spool
        self.classes = classes
        self.report = report
        self.clock = clock
        self.live = not camera.is_file
        self.bucket_seconds = bucket_seconds
        self._status = CameraReport(camera=camera.name, state="starting")
        self._frames: queue.Queue = queue.Queue(maxsize=2 if self.live else 8)
        self._inference_s = 0.0
        self._reader_error: Exception | None = None
        self._last_report = 0.0
        self._analysed_at_report = 0
        self._writer = SpoolWriter(spool, camera.name, clock=clock)

    @property
    def state(self) -> str:
        return self._status.state

    def aggregator(self, first_t: float) -> BucketAggregator:
        """Take over where the spool says this camera stopped, or at its first frame."""
        resume = self.spool.resume_point(self.camera.name)
        return BucketAggregator(
            seconds=self.bucket_seconds,
            start=first_t if resume is None else resume,
            max_gap_s=self.camera.max_frame_gap_s,
        )

    def run(self, frames: Iterable[TimedFrame], stop: Callable[[], bool]) -> None:
        reader = threading.Thread(target=self._read, args=(frames, stop), daemon=True)
        reader.start()
        # A live camera's buckets run on the clock from the start, even if no frame ever comes;
        # a file's start at its first frame's place on its timeline.
        aggregator = self.aggregator(self.clock()) if self.live else None
        last_t: float | None = None
        self._status.state = "running"
        self._status.running_since = self.clock()
        while not stop():
            try:
                item = self._frames.get(timeout=0.5)
            except queue.Empty:
                if self.live and aggregator is not None:
                    # No frames (stream down): buckets still close, with the uptime they had.
                    self._spool(aggregator.close_until(self.clock() - LIVE_LATENESS_S))
                self._writer.retry()
                self._maybe_report()
                continue
            if item is _END:
                if self._reader_error is not None:
                    # A file that breaks off is not a file that ended: nothing is closed as
                    # complete, and the process fails so the supervisor retries it.
                    raise self._reader_error
                break
            if aggregator is None:
                aggregator = self.aggregator(item.t)
            self._spool(aggregator.add(self._analyse(item)))
            self._writer.retry()
            last_t = item.t
            self._maybe_report()
        # The reader must be out of OpenCV before the process exits: a daemon thread that comes
        # back from grab() while the interpreter shuts down aborts the process (SIGABRT,
        # "terminate called without an active exception"). Between frames it sees stop() at
        # once; one sleeping out a reconnect backoff has no C++ on its stack and is not waited
        # for beyond this.
        reader.join(timeout=READER_STOP_S)
        if self.live and aggregator is not None:
            # Shutting down (or the stream gave up): keep what the open bucket saw, its uptime
            # says how much. A file is not flushed on shutdown: replaying it after the restart
            # rebuilds that bucket whole.
            self._spool(self._finish(aggregator, self.clock()))
        elif aggregator is not None and last_t is not None and not stop():
            # The file ran out: its last, partial bucket is complete as far as it goes.
            self._spool(self._finish(aggregator, last_t))
            if not self._writer.held:
                self._status.state = "finished"
        self._lose_held()
        self._maybe_report(force=True)

    def _lose_held(self) -> None:
        """Stopping with buckets the full spool never took. A file's are not lost (its progress
        in the spool did not move, so the restart replays them); a live camera's are."""
        if self._writer.held or self._writer.dropped:
            log.error(
                "camera %s stops with %s closed buckets the full spool %s did not take and %s"
                " dropped: %s",
                self.camera.name,
                len(self._writer.held),
                self.spool.path,
                self._writer.dropped,
                "the file is replayed from its last spooled bucket after the restart"
                if not self.live
                else "they are lost",
            )

    def _finish(self, aggregator: BucketAggregator, end: float) -> list[Bucket]:
        return aggregator.add(self.analyser.finish(end)) + aggregator.finish(end)

    def _analyse(self, frame: TimedFrame) -> FrameResult:
        began = time.perf_counter()
        result = self.analyser.analyse(frame.image, frame.t)
        self._inference_s += time.perf_counter() - began
        self._status.frames_analysed += 1
        self._status.count_events += len(result.events)
        self._status.last_frame_at = self.clock()
        return result

    def _spool(self, buckets: list[Bucket]) -> None:
        if buckets:
            self._writer.write([privacy.collected(b, classes=self.classes) for b in buckets])

    def _read(self, frames: Iterable[TimedFrame], stop: Callable[[], bool]) -> None:
        stride = self.camera.stride
        try:
            for frame in frames:
                if stop():
                    return
                self._status.frames_read += stride
                self._status.frames_skipped += stride - 1
                if self.live and self._frames.full():
                    # Behind a live stream: drop the oldest waiting frame, never fall behind.
                    try:
                        self._frames.get_nowait()
                        self._status.frames_skipped += 1
                    except queue.Empty:
                        pass
                self._put(frame, stop)
        except Exception as exc:
            # Handed to the analysing thread, which raises it: a reader thread's exception
            # would otherwise only be printed, and the camera would look finished.
            self._reader_error = exc
        finally:
            self._put(_END, stop)

    def _put(self, item: object, stop: Callable[[], bool]) -> None:
        while not stop():
            try:
                self._frames.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _maybe_report(self, force: bool = False) -> None:
        now = self.clock()
        elapsed = now - self._last_report
        if not force and elapsed < REPORT_EVERY_S:
            return
        analysed = self._status.frames_analysed
        if elapsed > 0 and self._last_report:
            self._status.analysed_fps = round((analysed - self._analysed_at_report) / elapsed, 2)
        if analysed:
            self._status.inference_ms = round(1000 * self._inference_s / analysed, 2)
        self._status.reported_at = now
        self._status.unspooled_buckets = len(self._writer.held)
        self._status.unspooled_dropped = self._writer.dropped
        self._status.spool_full_since = self._writer.full_since
        self._last_report, self._analysed_at_report = now, analysed
        self.report(replace(self._status))


def file_timeline(camera: CameraConfig, started: float) -> Callable[[float], float]:
    """Bucket time of a file position in seconds: the configured anchor, else start-up time."""
    anchor = camera.timeline_start.timestamp() if camera.timeline_start else started
    return lambda position_s: anchor + position_s


def open_frames(camera: CameraConfig, stop: Callable[[], bool]) -> Iterator[TimedFrame]:
    """Frames of the camera's source with their bucket time (see the module docstring)."""
    from edge_worker import video  # the vision stage's decoder; imported in the camera process

    if camera.is_file:
        to_time = file_timeline(camera, time.time())
        for position_s, image in video.read_file(camera.source, stride=camera.stride):
            if stop():
                return
            yield TimedFrame(to_time(position_s), image)
    else:
        for image in video.read_stream(camera.source, stop=stop, stride=camera.stride):
            yield TimedFrame(time.time(), image)


def build_camera_analyser(config: SiteConfig, camera: CameraConfig) -> Analyser:
    from edge_worker.analyser import build_analyser  # heavy (ONNX Runtime): camera process only

    return build_analyser(
        model_path=config.model.path,
        counters=camera,
        stride=camera.stride,
        detector_settings=camera.detector,
    )


def _die_with_parent(parent: int) -> None:
    """Linux: be killed outright when the worker dies, even by kill -9, so no orphan keeps
    counting into the spool next to the restarted worker's own camera process. SIGKILL, not
    SIGTERM: everything worth keeping is already committed, and an orphan busy loading the
    model would otherwise linger for seconds."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        log.warning("cannot ask to die with the worker; relying on the parent-pid check")
    if os.getppid() != parent:
        # The worker died before the request above was in place.
        os._exit(EXIT_STOPPED)


def camera_main(
    config_path: str, camera_name: str, reports: Any, stop_event: Any, parent: int
) -> None:
    """Entry point of a camera process (multiprocessing, spawn)."""
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the worker's to handle
    signal.signal(signal.SIGTERM, lambda *_: stop_event.set())
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s %(levelname)s camera {camera_name}: %(message)s"
    )
    # Reports are advisory: a full pipe to a busy (or stopping) worker must never hold up exit.
    # So the last one, put just before exit, can be lost with the queue's feeder thread (often
    # so on a loaded machine); the supervisor takes "finished" from the exit code instead.
    reports.cancel_join_thread()
    config = load_config(config_path)
    camera = next(c for c in config.cameras if c.name == camera_name)
    spool = Spool(config.spool.path, max_bytes=config.spool.max_bytes)

    def stop() -> bool:
        return stop_event.is_set() or os.getppid() != parent

    def report(status: CameraReport) -> None:
        try:
            reports.put_nowait(status)
        except queue.Full:
            log.debug("report queue full; the worker is busy, next report will follow")

    try:
        loop = CameraLoop(
            camera=camera,
            analyser=build_camera_analyser(config, camera),
            spool=spool,
            bucket_seconds=config.bucket_seconds,
            classes=frozenset(config.classes),
            report=report,
        )
        loop.run(open_frames(camera, stop), stop)
    finally:
        spool.close()
    if camera.is_file and loop.state != "finished":
        # Stopped before the file's end: not "done", so a supervisor that is still running
        # restarts it instead of taking the recording as analysed.
        sys.exit(EXIT_STOPPED)
