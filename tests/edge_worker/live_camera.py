"""What the live test cameras (mjpeg_server.py, rtsp_server.py) share: a clip's frames as JPEG,
and a camera's life on 127.0.0.1.

A camera can drop off (`stop`: every connection is reset, nothing listens any more) and come
back on the same port (`start`), as a camera that reboots does; and its open connections can go
silent (`stall`), as when the link under them dies without a FIN or a RST: those connections
stay open and get nothing more, while a new connection is served.

A subclass supplies the protocol: its URL scheme and path, its server class (one that can bind
the same port again at once after a stop) and request handler, and how a frame is prepared and
encoded. Its handler serves each connection inside `_serving`, counts the streams it starts
with `_count_connection`, and paces its frames with `_ticks`.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Self

import cv2
import numpy as np


def clip_frames(clip: Path, limit: int) -> tuple[list[np.ndarray], float]:
    """The clip's first `limit` frames and its frame rate."""
    capture = cv2.VideoCapture(str(clip))
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        images: list[np.ndarray] = []
        while len(images) < limit:
            ok, image = capture.read()
            if not ok:
                break
            images.append(image)
    finally:
        capture.release()
    if not images:
        raise ValueError(f"no frames in {clip}")
    return images, float(fps)


def encode_jpeg(image: np.ndarray, params: Sequence[int] = ()) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image, list(params))
    if not ok:
        raise ValueError("cannot encode a frame as JPEG")
    return encoded.tobytes()


def decode_jpeg(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("cannot decode a JPEG frame")
    return image


class LiveCamera:
    """Serves the clip's frames in a loop at `fps` (default: the clip's own rate) to every
    client at `url`. Use as a context manager, or start/stop.

    `jpegs` holds the frames as sent, `images` the same decoded back (what a receiver should
    see), `frame_shape` their shape."""

    SCHEME: ClassVar[str]
    PATH: ClassVar[str]
    SERVER: ClassVar[type[socketserver.TCPServer]]
    JPEG_PARAMS: ClassVar[Sequence[int]] = ()

    def __init__(self, clip: Path, fps: float | None = None, frames: int = 240) -> None:
        originals, clip_fps = clip_frames(clip, frames)
        self.fps = fps or clip_fps
        self.jpegs = [encode_jpeg(self._prepare(image), self.JPEG_PARAMS) for image in originals]
        self.images: list[np.ndarray] = [decode_jpeg(jpeg) for jpeg in self.jpegs]
        self.frame_shape = self.images[0].shape
        self.port = 0  # ephemeral at the first start, then kept so the URL stays the same
        self.connections = 0  # streams served since construction, across restarts
        self.connected_at: list[float] = []  # when each of them began (time.time())
        # unplug_after: frames a connection gets before the camera goes down by itself.
        self._unplug_after: int | None = None
        self.unplugged = threading.Event()
        self._server: socketserver.TCPServer | None = None
        self._thread: threading.Thread | None = None
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._down = threading.Event()  # set while stopped: senders stop sending
        self._dead: set[socket.socket] = set()  # stalled connections: they get nothing more

    @classmethod
    def url_at(cls, port: int) -> str:
        return f"{cls.SCHEME}://127.0.0.1:{port}{cls.PATH}"

    @property
    def url(self) -> str:
        return self.url_at(self.port)

    def differences(self, frame: np.ndarray) -> list[float]:
        """Mean absolute difference of the frame to each of the camera's frames, as sent."""
        return [float(cv2.absdiff(frame, sent).mean()) for sent in self.images]

    def position(self, frame: np.ndarray) -> int:
        """Which of the camera's frames this is: the one it differs least from."""
        return int(np.argmin(self.differences(frame)))

    def start(self) -> Self:
        self._down.clear()
        self._server = self.SERVER(("127.0.0.1", self.port), self._handler())
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
        self._down.set()  # each handler resets its own connection (see _serving)
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None
        with self._lock:
            clients = list(self._clients)
        for connection in clients:
            self._wake(connection)
        deadline = time.monotonic() + 2
        while self._clients and time.monotonic() < deadline:
            time.sleep(0.01)
        with self._lock:
            stuck = list(self._clients)
        for connection in stuck:
            # A handler blocked in a write to a client that reads no more: wake it up.
            quietly(connection.shutdown, socket.SHUT_RDWR)

    def unplug_after(self, frames: int) -> None:
        """From the next connection on, the camera goes down once a connection has had `frames`
        frames (all connections reset, none gets a frame more) and sets `unplugged`, so a
        client sees exactly the clip's first `frames` frames. Still listening: stop() it."""
        self._unplug_after = frames

    def stall(self) -> None:
        """The open connections go silent for good but stay open (a link dead without a FIN)."""
        with self._lock:
            self._dead |= self._clients

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- For the subclasses --------------------------------------------------------------------

    def _handler(self) -> type[socketserver.BaseRequestHandler]:
        raise NotImplementedError

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        """A clip's frame as this camera sends it."""
        return image

    def _wake(self, connection: socket.socket) -> None:
        """At a stop, before waiting for the handlers: wake one that waits for its client."""

    def _count_connection(self) -> None:
        with self._lock:
            self.connections += 1
            self.connected_at.append(time.time())

    @contextmanager
    def _serving(self, connection: socket.socket) -> Iterator[None]:
        """Track a client while its handler serves it, then close its connection with a RST."""
        with self._lock:
            self._clients.add(connection)
        try:
            yield
        finally:
            with self._lock:
                self._clients.discard(connection)
                self._dead.discard(connection)
            _reset(connection)

    def _ticks(self, connection: socket.socket, ended: threading.Event) -> Iterator[int]:
        """The indexes of the frames to send, from the first, each on time, until the camera
        stops or `ended` is set; none while the connection is stalled."""
        period = 1.0 / self.fps
        due = time.monotonic()
        index = 0
        while not self._down.is_set() and not ended.is_set():
            if connection in self._dead:
                ended.wait(0.05)
                continue
            if self._unplug_after is not None and index >= self._unplug_after:
                self._down.set()
                self.unplugged.set()
                return
            yield index
            index += 1
            due += period
            ended.wait(max(0.0, due - time.monotonic()))


def _reset(connection: socket.socket) -> None:
    """Close a connection with a TCP RST (linger 0), not the FIN of an orderly end, as a camera
    that dies mid-stream leaves it. The close takes effect as the handler closes its files, which
    comes before the server's own shutdown (a FIN) of the connection."""
    quietly(connection.setsockopt, socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    quietly(connection.close)


def quietly(call, *args) -> None:
    try:
        call(*args)
    except OSError:
        pass  # already gone
