"""The site file: one YAML document per device, validated strictly before anything starts.

Every model forbids unknown keys, so a typo fails at start with the key's path
(`cameras.0.lines.1.nmae: Extra inputs are not permitted`) instead of being silently ignored.
Relative paths are taken from the site file's folder, so a site directory can move as a whole.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from edge_worker.contract import ROAD_USER_CLASSES, RoadUserClass
from edge_worker.count.schema import CounterSet, LineSpec, MovementSpec, Name, ZoneSpec
from edge_worker.detect.settings import DetectorSettings

Identifier = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")


class ConfigError(Exception):
    """The site file cannot be used; the message names the key and what is wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolved(path: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base")
    return path if path.is_absolute() or base is None else Path(base) / path


class ModelConfig(_Strict):
    """The detector file and the digest it must have; checked at start, before any camera runs."""

    path: Path
    sha256: Sha256
    name: Identifier = "yolox_nano"

    @field_validator("path")
    @classmethod
    def _from_site_folder(cls, path: Path, info: ValidationInfo) -> Path:
        return _resolved(path, info)


class SpoolConfig(_Strict):
    path: Path
    # Payload bytes of spooled buckets and dead letters. 64 MiB hold years of 60 s buckets of a
    # busy intersection, so the cap only bites on a misconfiguration or a very long outage.
    max_bytes: int = Field(default=64 * 1024 * 1024, ge=4096)

    @field_validator("path")
    @classmethod
    def _from_site_folder(cls, path: Path, info: ValidationInfo) -> Path:
        return _resolved(path, info)


class HealthConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=9108, ge=0, le=65535)


class UplinkConfig(_Strict):
    batch_buckets: int = Field(default=60, ge=1, le=1440)
    # How long a bucket start waits for every camera before it goes without the missing ones.
    camera_wait_s: float = Field(default=300.0, ge=0)
    backoff_base_s: float = Field(default=1.0, gt=0)
    backoff_cap_s: float = Field(default=300.0, gt=0)
    credentials_retry_s: float = Field(default=300.0, gt=0)
    # A city's own certificate authority for the platform's TLS certificate (PEM); the system's
    # trusted authorities when not given. Verification is never switched off.
    ca_file: Path | None = None

    @field_validator("ca_file")
    @classmethod
    def _ca_from_site_folder(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        if path is None:
            return None
        path = _resolved(path, info)
        if not path.is_file():
            raise ValueError(f"no CA bundle at {path}")
        return path


class CameraConfig(CounterSet):
    """One camera: where its video comes from and the counters drawn on its image."""

    name: Name
    source: str = Field(min_length=1)
    stride: int = Field(default=1, ge=1, le=100)
    # Bucket time of a file source is the video's own timeline anchored here, so a recording
    # gives the same buckets however fast it is analysed and however often it is restarted.
    # Live streams always use the wall clock. Without an anchor a file starts at start-up time.
    timeline_start: AwareDatetime | None = None
    # Frames further apart than this mean the camera was not analysed in between (an outage).
    max_frame_gap_s: float = Field(default=2.0, gt=0)
    # Execution provider, thread counts, thresholds and region of interest for this camera.
    detector: DetectorSettings = Field(default_factory=DetectorSettings)

    @field_validator("source")
    @classmethod
    def _file_or_stream(cls, source: str, info: ValidationInfo) -> str:
        if "://" in source:
            scheme = urlsplit(source).scheme.lower()
            if scheme not in STREAM_SCHEMES:
                raise ValueError(f"stream scheme must be one of {', '.join(STREAM_SCHEMES)}")
            return source
        path = _resolved(Path(source), info)
        if not path.is_file():
            raise ValueError(f"no video file at {path}")
        return str(path)

    @property
    def is_file(self) -> bool:
        return "://" not in self.source


class FleetConfig(_Strict):
    """Where fleet releases live on this device, and the TUF root it was provisioned with."""

    slots: Path
    trusted_root: Path
    # The update agent checks in this often, give or take up to `jitter_s` (so a fleet does not
    # call at once), then judges a new release over `gate_s`: cameras up, fps above the floor.
    check_in_s: float = Field(default=300.0, gt=0)
    jitter_s: float = Field(default=60.0, ge=0)
    gate_s: float = Field(default=120.0, gt=0)
    gate_min_fps: float = Field(default=1.0, ge=0)

    @field_validator("slots", "trusted_root")
    @classmethod
    def _from_site_folder(cls, path: Path, info: ValidationInfo) -> Path:
        return _resolved(path, info)


class SiteConfig(_Strict):
    device_id: Identifier
    site: Identifier
    region: Identifier
    endpoint: str
    # Regional endpoints a 421 Misdirected Request may send this device to; nothing else.
    allowed_endpoints: list[str] = Field(default_factory=list)
    secret_file: Path | None = None
    secret_env: str | None = None
    model: ModelConfig
    # The region's shortest accepted bucket is 60 s in practice; tests and demos use 1-2 s.
    # Dividing a day keeps buckets aligned to midnight UTC, as the platform's rollups expect.
    bucket_seconds: int = Field(default=60, ge=1, le=3600)
    classes: list[RoadUserClass] = Field(
        default_factory=lambda: list(ROAD_USER_CLASSES),
        min_length=1,
    )
    spool: SpoolConfig
    uplink: UplinkConfig = Field(default_factory=UplinkConfig)
    cameras: list[CameraConfig] = Field(min_length=1)
    health: HealthConfig = Field(default_factory=HealthConfig)
    fleet: FleetConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secret(cls, data: object) -> object:
        if isinstance(data, dict) and "secret" in data:
            # Site files get copied, committed and pasted into tickets; secrets must not be in them.
            raise ValueError("an inline secret is not allowed: use secret_file or secret_env")
        return data

    @field_validator("endpoint", "allowed_endpoints")
    @classmethod
    def _https_or_loopback(cls, value: str | list[str]) -> str | list[str]:
        for url in [value] if isinstance(value, str) else value:
            _check_endpoint(url)
        return value

    @field_validator("secret_file")
    @classmethod
    def _from_site_folder(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        return None if path is None else _resolved(path, info)

    @field_validator("bucket_seconds")
    @classmethod
    def _divides_a_day(cls, seconds: int) -> int:
        if 86400 % seconds:
            raise ValueError("must divide a day (86400 s) so buckets align to midnight UTC")
        return seconds

    @model_validator(mode="after")
    def _site_wide_rules(self) -> SiteConfig:
        if (self.secret_file is None) == (self.secret_env is None):
            raise ValueError("give exactly one of secret_file or secret_env")
        cameras_check(self.cameras)
        return self

    def read_secret(self) -> str:
        """The device secret, read afresh each time so a rotated secret file takes effect."""
        if self.secret_file is not None:
            try:
                secret = self.secret_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"secret_file: cannot read {self.secret_file}: {exc}") from exc
            where = f"secret_file {self.secret_file}"
        else:
            secret = os.environ.get(self.secret_env or "", "").strip()
            where = f"environment variable {self.secret_env}"
        if not secret:
            raise ConfigError(f"the device secret is empty or missing: {where}")
        return secret


def cameras_check(cameras: list[CameraConfig]) -> None:
    """Rules across a site's cameras (also applied to a fleet release's config patch)."""
    names = [c.name for c in cameras]
    if len(set(names)) != len(names):
        raise ValueError("camera names must be unique")
    # Buckets of all cameras merge into one site bucket, so a name may exist only once.
    specs: list[LineSpec | ZoneSpec | MovementSpec] = []
    for c in cameras:
        specs.extend([*c.lines, *c.zones, *c.movements])
    counters = [s.name for s in specs]
    repeated = sorted({n for n in counters if counters.count(n) > 1})
    if repeated:
        raise ValueError(f"counter and zone names must be unique across cameras: {repeated}")


def _check_endpoint(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        # Plain HTTP only to this machine (tests, a local demo platform); never over a network.
        raise ValueError(f"{url!r} must use https (plain http only for loopback)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _error_lines(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"{path}: {item['msg']}")
    return "\n".join(lines)


def load_config(path: str | Path) -> SiteConfig:
    """Read and validate a site file; every problem raises ConfigError naming the key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read site file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of settings")
    try:
        return SiteConfig.model_validate(data, context={"base": path.resolve().parent})
    except ValidationError as exc:
        raise ConfigError(f"{path}:\n{_error_lines(exc)}") from exc


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_model_digest(model: ModelConfig) -> None:
    """Refuse to start on a model that is not the one the site file names: counts from another
    model are not comparable, and the batch tells the platform which model made them."""
    if not model.path.is_file():
        raise ConfigError(f"model.path: no model file at {model.path}")
    actual = file_sha256(model.path)
    if actual != model.sha256:
        raise ConfigError(
            f"model.sha256: {model.path} has SHA-256 {actual}, but the site file expects "
            f"{model.sha256}; fetch the right model (python -m edge_worker fetch-model) or fix "
            "the digest"
        )
