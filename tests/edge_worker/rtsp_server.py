"""A live RTSP camera for tests: real footage as JPEG over RTP (RFC 2435), on 127.0.0.1.

Street cameras mostly speak RTSP. This one answers RTSP 1.0 (OPTIONS, DESCRIBE, SETUP, PLAY,
GET_PARAMETER, TEARDOWN) and streams RTP interleaved in the RTSP connection itself
(`RTP/AVP/TCP;interleaved=0-1`, each packet framed as `$`, channel, 2-byte length): the
transport that passes NAT and firewalls, which real deployments need. A SETUP asking for RTP
over UDP is refused (461 Unsupported Transport), as by a camera set to TCP only, so a test
sees which transport the client asked for first (`transports`).

OpenCV's FFmpeg backend asks for TCP first by default (rtsp_flags prefer_tcp), but only while
OPENCV_FFMPEG_CAPTURE_OPTIONS is unset: any value there replaces that default (read at every
open), and FFmpeg then tries UDP first, which a firewall may drop silently.

Each frame is a baseline JPEG from cv2.imencode, taken apart as RFC 2435 wants it: its
entropy-coded scan data is sent in fragments after the 8-byte JPEG header, with the frame's
quantization tables in-band (Q = 255) in its first packet; the receiver rebuilds the JPEG
headers from the type (1: 4:2:0), the size in blocks of 8 pixels and the standard Huffman
tables that libjpeg uses unless told to optimize them.

Like the MJPEG camera (mjpeg_server.py) it can drop off (`stop`: every connection reset,
nothing listening), come back on the same port (`start`), and go silent (`stall`): that life
is LiveCamera's (live_camera.py).
"""

from __future__ import annotations

import random
import socket
import socketserver
import struct
import threading
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

from tests.edge_worker.live_camera import LiveCamera, quietly

PAYLOAD_TYPE = 26  # JPEG, static (RFC 3551)
CLOCK_HZ = 90_000
MAX_PAYLOAD = 1400  # bytes of RTP payload per packet, as if it had to fit an Ethernet frame
JPEG_TYPE_420 = 1  # RFC 2435 type 1: Y sampled 2x2, Cb and Cr 1x1


class JpegFrame:
    """The parts of a baseline JPEG that RFC 2435 sends: size, quantization tables, scan."""

    def __init__(self, jpeg: bytes) -> None:
        self.width = self.height = 0
        self.tables = b""  # the DQT tables in zigzag order, luma's then chroma's
        self.scan = b""
        tables: dict[int, bytes] = {}
        at = 2
        if jpeg[:2] != b"\xff\xd8":
            raise ValueError("not a JPEG")
        while at < len(jpeg):
            if jpeg[at] != 0xFF:
                raise ValueError(f"no marker at byte {at}")
            marker = jpeg[at + 1]
            length = struct.unpack(">H", jpeg[at + 2 : at + 4])[0]
            body = jpeg[at + 4 : at + 2 + length]
            if marker == 0xDB:  # DQT: one or more tables of 64 8-bit entries
                while body:
                    if body[0] >> 4:
                        raise ValueError("16-bit quantization tables")
                    tables[body[0] & 0x0F], body = body[1:65], body[65:]
            elif marker == 0xC0:  # SOF0, baseline
                self._frame_header(body)
            elif marker in (0xC1, 0xC2, 0xC3, 0xDD):
                raise ValueError(f"not a baseline JPEG without restart markers: {marker:#x}")
            elif marker == 0xDA:  # SOS: the entropy-coded data runs from here to EOI
                end = len(jpeg) - 2
                if jpeg[end:] != b"\xff\xd9":
                    raise ValueError("no EOI at the end")
                self.scan = jpeg[at + 2 + length : end]
                break
            at += 2 + length
        if sorted(tables) != [0, 1] or not self.scan or not self.width:
            raise ValueError("not a two-table baseline colour JPEG")
        self.tables = tables[0] + tables[1]

    def _frame_header(self, body: bytes) -> None:
        precision, self.height, self.width, count = struct.unpack(">BHHB", body[:6])
        components = [tuple(body[6 + 3 * i : 9 + 3 * i]) for i in range(count)]
        # id, sampling (h << 4 | v), table: what a type-1 receiver rebuilds, and nothing else.
        if precision != 8 or components != [(1, 0x22, 0), (2, 0x11, 1), (3, 0x11, 1)]:
            raise ValueError(f"not a 4:2:0 JPEG with RFC 2435's layout: {components}")
        if self.width % 8 or self.height % 8 or max(self.width, self.height) > 2040:
            raise ValueError(f"RFC 2435 cannot carry {self.width}x{self.height}")


def rtp_payloads(frame: JpegFrame) -> list[bytes]:
    """The RTP payloads of one frame: JPEG header (+ tables in the first), then scan data."""
    payloads: list[bytes] = []
    offset = 0
    while offset < len(frame.scan) or not payloads:
        header = struct.pack(
            ">BBHBBBB",
            0,  # type-specific
            offset >> 16,  # fragment offset, 24 bits
            offset & 0xFFFF,
            JPEG_TYPE_420,
            255,  # Q >= 128: the tables come in-band; 255: in every frame
            frame.width // 8,
            frame.height // 8,
        )
        if offset == 0:
            header += struct.pack(">BBH", 0, 0, len(frame.tables)) + frame.tables
        chunk = frame.scan[offset : offset + MAX_PAYLOAD - len(header)]
        payloads.append(header + chunk)
        offset += len(chunk)
    return payloads


class _RtspServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # the same port again at once after a stop
    daemon_threads = True


class RtspCamera(LiveCamera):
    """Serves the clip's frames in a loop at `fps` (default: the clip's own rate) to every
    client at rtsp://127.0.0.1:<port>/camera. Use as a context manager, or start/stop.

    `connections` counts the streams played; `transports` holds the Transport header of every
    SETUP; `packets` the RTP payloads of each frame."""

    SCHEME = "rtsp"
    PATH = "/camera"
    SERVER = _RtspServer
    JPEG_PARAMS = (cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420)

    def __init__(self, clip: Path, fps: float | None = None, frames: int = 240) -> None:
        super().__init__(clip, fps, frames)
        self.packets = [rtp_payloads(JpegFrame(jpeg)) for jpeg in self.jpegs]
        self.transports: list[str] = []  # the Transport header of every SETUP

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        """Cropped to whole blocks of 8, as RFC 2435 needs."""
        height, width = image.shape[:2]
        return np.ascontiguousarray(image[: height - height % 8, : width - width % 8])

    def _wake(self, connection: socket.socket) -> None:
        # Wakes the handler blocked reading the client's requests, with nothing sent: the
        # handler then closes the connection with a RST.
        quietly(connection.shutdown, socket.SHUT_RD)

    def _handler(self) -> type[socketserver.BaseRequestHandler]:
        camera = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                connection: socket.socket = self.request
                ended = threading.Event()  # the session is over: its sender stops
                sender: list[threading.Thread] = []
                with camera._serving(connection):
                    try:
                        camera._session(connection, ended, sender)
                    except (OSError, ValueError):
                        pass  # the client went away, or the camera dropped off
                    finally:
                        ended.set()
                        for thread in sender:
                            thread.join(timeout=1)

        return Handler

    def _session(
        self, connection: socket.socket, ended: threading.Event, sender: list[threading.Thread]
    ) -> None:
        """Answer the client's requests; after PLAY, a sender thread streams beside them."""
        incoming = connection.makefile("rb")
        send_lock = threading.Lock()
        session = f"{random.getrandbits(32):08X}"

        def reply(cseq: str, status: str = "200 OK", headers: str = "", body: bytes = b""):
            head = f"RTSP/1.0 {status}\r\nCSeq: {cseq}\r\n{headers}"
            if body:
                head += f"Content-Length: {len(body)}\r\n"
            with send_lock:
                connection.sendall(head.encode() + b"\r\n" + body)

        while not self._down.is_set():
            request = _read_request(incoming)
            if request is None:
                return  # the client closed the connection
            method, url, headers = request
            cseq = headers.get("cseq", "0")
            if method == "OPTIONS":
                methods = "OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER, TEARDOWN"
                reply(cseq, headers=f"Public: {methods}\r\n")
            elif method == "DESCRIBE":
                if not url.split("?")[0].endswith(self.PATH):
                    reply(cseq, "404 Not Found")
                    continue
                base = f"{self.url}/"
                sdp = (
                    "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=Junction test camera\r\n"
                    "c=IN IP4 0.0.0.0\r\nt=0 0\r\na=control:*\r\n"
                    f"m=video 0 RTP/AVP {PAYLOAD_TYPE}\r\na=rtpmap:{PAYLOAD_TYPE} JPEG/90000\r\n"
                    f"a=framerate:{self.fps:g}\r\na=control:track0\r\n"
                )
                reply(
                    cseq,
                    headers=f"Content-Base: {base}\r\nContent-Type: application/sdp\r\n",
                    body=sdp.encode(),
                )
            elif method == "SETUP":
                transport = headers.get("transport", "")
                self.transports.append(transport)
                if "RTP/AVP/TCP" not in transport:
                    reply(cseq, "461 Unsupported Transport")
                    continue
                reply(
                    cseq,
                    headers=f"Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"
                    f"Session: {session};timeout=60\r\n",
                )
            elif method == "PLAY":
                reply(cseq, headers=f"Session: {session}\r\nRange: npt=0.000-\r\n")
                if not sender:
                    self._count_connection()
                    sender.append(
                        threading.Thread(
                            target=self._send_quietly,
                            args=(connection, send_lock, ended),
                            daemon=True,
                        )
                    )
                    sender[0].start()
            elif method == "GET_PARAMETER":  # a keep-alive
                reply(cseq, headers=f"Session: {session}\r\n")
            elif method == "TEARDOWN":
                reply(cseq, headers=f"Session: {session}\r\n")
                return
            else:
                reply(cseq, "405 Method Not Allowed")

    def _send_quietly(
        self, connection: socket.socket, send_lock: threading.Lock, ended: threading.Event
    ) -> None:
        try:
            self._send(connection, send_lock, ended)
        except OSError:
            pass  # the client went away; its handler resets the connection

    def _send(
        self, connection: socket.socket, send_lock: threading.Lock, ended: threading.Event
    ) -> None:
        """The clip's frames from its first, in a loop, on time, until the camera stops."""
        ssrc, sequence = random.getrandbits(32), random.getrandbits(16)
        timestamp = random.getrandbits(32)
        for index in self._ticks(connection, ended):
            payloads = self.packets[index % len(self.packets)]
            stamp = (timestamp + round(index * CLOCK_HZ / self.fps)) & 0xFFFFFFFF
            data = bytearray()
            for number, payload in enumerate(payloads):
                marker = 0x80 if number == len(payloads) - 1 else 0  # the frame's last packet
                rtp = struct.pack(">BBHII", 0x80, marker | PAYLOAD_TYPE, sequence, stamp, ssrc)
                sequence = (sequence + 1) & 0xFFFF
                data += struct.pack(">cBH", b"$", 0, len(rtp) + len(payload)) + rtp + payload
            with send_lock:
                connection.sendall(data)


def _read_request(incoming: BinaryIO) -> tuple[str, str, dict[str, str]] | None:
    """The next RTSP request (method, url, headers by lower-case name), skipping interleaved
    packets the client sends (its RTCP receiver reports); None at the end of the connection."""
    while True:
        first = incoming.read(1)
        if not first:
            return None
        if first == b"$":
            head = incoming.read(3)
            if len(head) < 3:
                return None
            incoming.read(struct.unpack(">H", head[1:])[0])
            continue
        line = (first + incoming.readline()).decode("latin-1").strip()
        if not line:
            continue
        headers: dict[str, str] = {}
        while (header := incoming.readline().decode("latin-1").strip()) != "":
            name, _, value = header.partition(":")
            headers[name.strip().lower()] = value.strip()
        if length := int(headers.get("content-length", "0")):
            incoming.read(length)
        method, url, _ = (line.split(" ") + ["", ""])[:3]
        return method, url, headers
