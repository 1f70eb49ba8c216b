"""A live IP camera for tests: real footage served as MJPEG over HTTP on 127.0.0.1.

MJPEG over HTTP (multipart/x-mixed-replace, one JPEG per part) is what most IP cameras offer
at /video.mjpg, and OpenCV's FFmpeg backend reads it (its mpjpeg demuxer) with no RTSP server.

Its life (drop off, come back on the same port, go silent) is LiveCamera's (live_camera.py).
"""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO

from tests.edge_worker.live_camera import LiveCamera

BOUNDARY = "frame"


class MjpegCamera(LiveCamera):
    """Serves the clip's frames in a loop at `fps` (default: the clip's own rate) to every
    client at http://127.0.0.1:<port>/video.mjpg. Use as a context manager, or start/stop."""

    SCHEME = "http"
    PATH = "/video.mjpg"
    SERVER = ThreadingHTTPServer  # binds the same port again at once (allow_reuse_address)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # keep the test output to the test's own

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path != camera.PATH:
                    self.send_error(404)
                    return
                with camera._serving(self.connection):
                    camera._count_connection()
                    self.send_response(200)
                    self.send_header(
                        "Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}"
                    )
                    self.send_header("Cache-Control", "no-cache")
                    self.end_headers()
                    try:
                        camera._stream(self.connection, self.wfile)
                    except OSError:
                        pass  # the client went away

        return Handler

    def _stream(self, connection: socket.socket, out: BinaryIO) -> None:
        """The clip's frames from its first, in a loop, on time, until the camera stops."""
        for index in self._ticks(connection, self._down):
            jpeg = self.jpegs[index % len(self.jpegs)]
            out.write(
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                + jpeg
                + b"\r\n"
            )
            out.flush()
