"""Fetching a release from the region's TUF repository with python-tuf's client (ngclient).

Every file is verified against the pinned root's chain of trust (signatures, thresholds,
versions, expiry, lengths and hashes) before it reaches the staging folder; only a release whose
every target verified is committed to a slot. Each request is signed as the device, as the
repository serves only its own region's devices.
"""

from __future__ import annotations

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


class SignedFetcher(FetcherInterface):
    """ngclient's downloads, each signed `GET <path>` with the device secret (DESIGN.md 4)."""

    def __init__(self, repository: Repository, timeout: float = 30.0) -> None:
        self.repository = repository
        self.timeout = timeout
        self.session = requests.Session()

    def _fetch(self, url: str) -> Iterator[bytes]:
        path = urlsplit(url).path
        stamp = int(time.time())
        headers = {
            "X-Junction-Device": self.repository.device_id,
            "X-Junction-Timestamp": str(stamp),
            "X-Junction-Signature": signature(
                self.repository.secret, stamp, f"GET {path}".encode()
            ),
        }
        try:
            response = self.session.get(url, headers=headers, stream=True, timeout=self.timeout)
        except requests.Timeout as exc:
            raise exceptions.SlowRetrievalError from exc
        if response.status_code >= 400:
            response.close()
            raise exceptions.DownloadHTTPError(
                f"{response.status_code} for {path}", response.status_code
            )
        return response.iter_content(1 << 16)


def _updater(repository: Repository, staging: Path) -> Updater:
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
        fetcher=SignedFetcher(repository),
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
        updater = _updater(repository, staging)
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
        shutil.rmtree(staging, ignore_errors=True)
        raise VerificationFailed(f"{type(exc).__name__}: {exc}") from exc
    except (VerificationFailed, exceptions.DownloadError):
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return slots.commit(release)
