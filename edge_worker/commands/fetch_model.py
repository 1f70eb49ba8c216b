"""`fetch-model --dest PATH`: download the official YOLOX-Nano release, pinned by URL and digest.

The file is written next to PATH under a temporary name and only renamed into place when its
SHA-256 matches, so a truncated or tampered download never becomes the model a worker loads.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import tempfile
from pathlib import Path

import requests

from edge_worker.config import file_sha256

log = logging.getLogger(__name__)

OFFICIAL_URL = (
    "https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx"
)
OFFICIAL_SHA256 = "c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d"


class DigestMismatch(Exception):
    pass


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fetch-model",
        help="download the YOLOX-Nano detector and check its SHA-256",
        description=__doc__,
    )
    parser.add_argument("--dest", required=True, type=Path, help="where to write the model")
    # Overridable for mirrors and for tests; the digest stays pinned unless changed explicitly.
    parser.add_argument("--url", default=OFFICIAL_URL, help=argparse.SUPPRESS)
    parser.add_argument("--sha256", default=OFFICIAL_SHA256, help="expected SHA-256")
    parser.set_defaults(handler=fetch_model)


def download(url: str, dest: Path, sha256: str, timeout_s: float = 60.0) -> str:
    """Download `url` to `dest` if its SHA-256 is `sha256`; returns the digest."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    handle = tempfile.NamedTemporaryFile(
        dir=dest.parent, prefix=f".{dest.name}.", suffix=".part", delete=False
    )
    temporary = Path(handle.name)
    try:
        with handle, requests.get(url, stream=True, timeout=timeout_s) as response:
            response.raise_for_status()
            for chunk in response.iter_content(chunk_size=1 << 16):
                digest.update(chunk)
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        actual = digest.hexdigest()
        if actual != sha256:
            raise DigestMismatch(f"{url} has SHA-256 {actual}, expected {sha256}; not installed")
        os.replace(temporary, dest)
    finally:
        # Anything that did not reach os.replace (mismatch, network error) is removed here.
        temporary.unlink(missing_ok=True)
    return actual


def fetch_model(args: argparse.Namespace) -> int:
    dest: Path = args.dest
    if dest.is_file() and file_sha256(dest) == args.sha256:
        print(f"{dest} is already the model with SHA-256 {args.sha256}")
        return 0
    try:
        actual = download(args.url, dest, args.sha256)
    except DigestMismatch as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    except (requests.RequestException, OSError) as exc:
        print(f"download failed: {exc}", file=sys.stderr)
        return 1
    print(f"{dest} written, SHA-256 {actual}")
    return 0
