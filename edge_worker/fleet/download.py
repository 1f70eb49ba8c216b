"""Fetching a release from the region's TUF repository with python-tuf's client (ngclient).

Every file is verified against the pinned root's chain of trust (signatures, thresholds,
versions, expiry, lengths and hashes) before it reaches the staging folder; only a release whose
every target verified is committed to a slot. Each request is signed as the device, as the
repository serves only its own region's devices.

A target's bytes are kept on disk as they arrive (`Slots.partial`), so a download cut by the
network or a power cut goes on where it stopped, with an HTTP Range request, instead of
starting over on a slow cellular link. Resuming trusts nothing new: ngclient verifies the whole
file's length and hashes as before, and a partial file that does not verify is thrown away.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from tuf.api import exceptions
from tuf.ngclient import FetcherInterface, Updater

from edge_worker.fleet.slots import Slots
from edge_worker.signing import signature

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Repository:
    endpoint: str  # the region's base URL, e.g. https://eu-west.junction.example
    region: str
    device_id: str
    secret: str
    trusted_root: Path  # the root.json the device was provisioned with
    metadata_dir: Path  # where ngclient keeps the metadata it trusts now

    def url(self, kind: str) -> str:
        return f"{self.endpoint.rstrip('/')}/api/v1/fleet/{self.region}/{kind}/"


class VerificationFailed(Exception):
    """A release did not verify (tampered, expired, rolled back, wrongly signed); nothing was
    installed."""


CHUNK = 1 << 16


class SignedFetcher(FetcherInterface):
    """ngclient's downloads, each signed `GET <path>` with the device secret (DESIGN.md 4).

    Targets (never metadata, which is small and must be read afresh) are also written to a
    partial file in `partial_dir` as they arrive, and a later fetch of the same URL asks only
    for the bytes after it. The URL names the file's hash, so those bytes are of this file."""

    def __init__(
        self, repository: Repository, partial_dir: Path | None = None, timeout: float = 30.0
    ) -> None:
        self.repository = repository
        self.partial_dir = partial_dir
        self.timeout = timeout
        self.session = requests.Session()

    def partial_of(self, url: str) -> Path | None:
        if self.partial_dir is None or not url.startswith(self.repository.url("targets")):
            return None
        return self.partial_dir / hashlib.sha256(url.encode()).hexdigest()

    def _fetch(self, url: str) -> Iterator[bytes]:
        partial = self.partial_of(url)
        have = partial.stat().st_size if partial is not None and partial.exists() else 0
        response = self._get(url, {"Range": f"bytes={have}-"} if have else {})
        if partial is None:
            return response.iter_content(CHUNK)
        if response.status_code == 416:
            # The partial file already holds every byte (a cut after the last chunk): ngclient
            # verifies it like any download.
            response.close()
            return _read(partial)
        resumed = response.status_code == 206 and response.headers.get(
            "Content-Range", ""
        ).startswith(f"bytes {have}-")
        if have and not resumed:
            log.info(
                "fleet: %s cannot be resumed (HTTP %s); from the start", url, response.status_code
            )
        return _kept(response, partial, resume=resumed)

    def _get(self, url: str, extra: dict[str, str]) -> requests.Response:
        path = urlsplit(url).path
        stamp = int(time.time())
        headers = {
            "X-Junction-Device": self.repository.device_id,
            "X-Junction-Timestamp": str(stamp),
            "X-Junction-Signature": signature(
                self.repository.secret, stamp, f"GET {path}".encode()
            ),
            **extra,
        }
        try:
            response = self.session.get(url, headers=headers, stream=True, timeout=self.timeout)
        except requests.Timeout as exc:
            raise exceptions.SlowRetrievalError from exc
        if response.status_code >= 400 and response.status_code != 416:
            response.close()
            raise exceptions.DownloadHTTPError(
                f"{response.status_code} for {path}", response.status_code
            )
        if response.status_code == 416 and "Range" not in extra:
            response.close()
            raise exceptions.DownloadHTTPError(f"416 for {path}", 416)
        return response


def _read(partial: Path) -> Iterator[bytes]:
    with partial.open("rb") as kept:
        yield from iter(lambda: kept.read(CHUNK), b"")


def _kept(response: requests.Response, partial: Path, *, resume: bool) -> Iterator[bytes]:
    """The file's bytes for ngclient: those already on disk when resuming, then the answer's,
    each written to the partial file before it is handed on (flushed: a cut keeps them)."""
    partial.parent.mkdir(parents=True, exist_ok=True)
    if resume:
        yield from _read(partial)
    with response, partial.open("ab" if resume else "wb") as kept:
        for chunk in response.iter_content(CHUNK):
            kept.write(chunk)
            kept.flush()
            yield chunk


def _updater(repository: Repository, staging: Path, partial_dir: Path | None = None) -> Updater:
    repository.metadata_dir.mkdir(parents=True, exist_ok=True)
    trusted = repository.metadata_dir / "root.json"
    if not trusted.exists():
        # First use: the pinned root. ngclient then keeps the newest root it verified here.
        shutil.copyfile(repository.trusted_root, trusted)
    return Updater(
        metadata_dir=str(repository.metadata_dir),
        metadata_base_url=repository.url("metadata"),
        target_dir=str(staging),
        target_base_url=repository.url("targets"),
        fetcher=SignedFetcher(repository, partial_dir),
        bootstrap=None,
    )


def release_fetch(
    repository: Repository, slots: Slots, *, release: str, targets: dict[str, str]
) -> Path:
    """Download and verify every target of `release` into staging, then commit its slot
    (not live yet); VerificationFailed, with nothing committed, if any of them does not verify.
    """
    staging = slots.staging(release)
    try:
        updater = _updater(repository, staging, slots.partial)
        updater.refresh()
        for path in targets.values():
            info = updater.get_targetinfo(path)
            if info is None:
                raise VerificationFailed(f"{path} is not a signed target of the repository")
            if info.custom.get("release") != release:
                raise VerificationFailed(
                    f"{path} is signed for release {info.custom.get('release')!r}, not {release!r}"
                )
            updater.download_target(info, str(staging / Path(path).name))
    except exceptions.RepositoryError as exc:
        # Bytes that did not verify are never resumed from: the next try starts over.
        slots.partial_clear()
        shutil.rmtree(staging, ignore_errors=True)
        raise VerificationFailed(f"{type(exc).__name__}: {exc}") from exc
    except exceptions.DownloadLengthMismatchError:
        slots.partial_clear()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    except (VerificationFailed, exceptions.DownloadError):
        # A cut download keeps its partial files: the next try resumes from them.
        shutil.rmtree(staging, ignore_errors=True)
        raise
    slot = slots.commit(release)
    slots.partial_clear()
    return slot
