"""A live IP camera for tests: real footage served as MJPEG over HTTP on 127.0.0.1.

MJPEG over HTTP (multipart/x-mixed-replace, one JPEG per part) is what most IP cameras offer
at /video.mjpg, and OpenCV's FFmpeg backend reads it (its mpjpeg demuxer) with no RTSP server.

The camera can drop off (`stop`: every connection is reset, nothing listens any more) and come
back on the same port (`start`), as a camera that reboots does; and its open connections can go
silent (`stall`), as when the link under them dies without a FIN or a RST: those connections
stay open and get nothing more, while a new connection is served.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

BOUNDARY = "frame"
PATH = "/video.mjpg"


def jpeg_frames(clip: Path, limit: int) -> tuple[list[bytes], float, tuple[int, ...]]:
    """The clip's first `limit` frames as JPEG, its frame rate, and its frame shape."""
    capture = cv2.VideoCapture(str(clip))
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        jpegs: list[bytes] = []
        shape: tuple[int, ...] = ()
        while len(jpegs) < limit:
            ok, frame = capture.read()
            if not ok:
                break
            shape = frame.shape
            jpegs.append(_jpeg(frame))
    finally:
        capture.release()
    if not jpegs:
        raise ValueError(f"no frames in {clip}")
    return jpegs, float(fps), shape


def _jpeg(frame: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".jpg", frame)
    if not ok:
        raise ValueError("cannot encode a frame as JPEG")
    return encoded.tobytes()


class MjpegCamera:
    """Serves the clip's frames in a loop at `fps` (default: the clip's own rate) to every
    client at http://127.0.0.1:<port>/video.mjpg. Use as a context manager, or start/stop."""

    def __init__(self, clip: Path, fps: float | None = None, frames: int = 240) -> None:
        self.jpegs, clip_fps, self.frame_shape = jpeg_frames(clip, frames)
        self.fps = fps or clip_fps
        self.port = 0  # ephemeral at the first start, then kept so the URL stays the same
        self.connections = 0  # served since construction, across restarts
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._down = threading.Event()  # set while stopped: handlers stop sending
        self._dead: set[socket.socket] = set()  # stalled connections: they get nothing more

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def start(self) -> MjpegCamera:
        self._down.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """The camera drops off: open connections are reset, and nothing listens any more."""
        if self._server is None:
            return
        self._down.set()  # each handler resets its own connection (see do_GET)
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None
        deadline = time.monotonic() + 2
        while self._clients and time.monotonic() < deadline:
            time.sleep(0.01)
        with self._lock:
            stuck = list(self._clients)
        for connection in stuck:
            # A handler blocked in a write to a client that reads no more: wake it up.
            connection.shutdown(socket.SHUT_RDWR)

    def stall(self) -> None:
        """The open connections go silent for good but stay open (a link dead without a FIN)."""
        with self._lock:
            self._dead |= self._clients

    def __enter__(self) -> MjpegCamera:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # keep the test output to the test's own

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path != PATH:
                    self.send_error(404)
                    return
                with camera._lock:
                    camera._clients.add(self.connection)
                    camera.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                try:
                    camera._stream(self.connection, self.wfile)
                except OSError:
                    pass  # the client went away
                finally:
                    with camera._lock:
                        camera._clients.discard(self.connection)
                        camera._dead.discard(self.connection)
                    _reset(self.connection)

        return Handler

    def _stream(self, connection: socket.socket, out: BinaryIO) -> None:
        """The clip's frames from its first, in a loop, on time, until the camera stops."""
        period = 1.0 / self.fps
        due = time.monotonic()
        index = 0
        while not self._down.is_set():
            if connection in self._dead:
                self._down.wait(0.05)
                continue
            jpeg = self.jpegs[index % len(self.jpegs)]
            out.write(
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                + jpeg
                + b"\r\n"
            )
            out.flush()
            index += 1
            due += period
            self._down.wait(max(0.0, due - time.monotonic()))


def _reset(connection: socket.socket) -> None:
    """Close a connection with a TCP RST (linger 0), not the FIN of an orderly end, as a camera
    that dies mid-stream leaves it. The close takes effect as the handler closes its files, which
    comes before http.server's own shutdown (a FIN) of the connection."""
    try:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()
    except OSError:
        pass  # already gone
