"""Fleet fixtures: keys in this test's folder, a repository per region, two eu-west devices,
a real model and config patches, and a device's signed requests (computed here on their own)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from junction.sites import services as site_services
from tests.conftest import require
from tests.platform.conftest import DevicePersona


@pytest.fixture
def fleet_keys(tmp_path, settings):
    settings.JUNCTION_FLEET_OFFLINE_KEYS = tmp_path / "offline"
    settings.JUNCTION_FLEET_ONLINE_KEYS = tmp_path / "online"
    return tmp_path


@pytest.fixture
def eu_repo(eu_west, fleet_keys):
    call_command("fleet_init", "--region", "eu-west")
    return "eu-west"


@pytest.fixture
def us_repo(us_east, fleet_keys):
    call_command("fleet_init", "--region", "us-east")
    return "us-east"


@pytest.fixture
def eu_device_b(eu_site) -> DevicePersona:
    issued = site_services.device_add(device_id="dev-main-5th-s", site=eu_site.slug)
    return DevicePersona(issued.device, issued.secret, eu_site)


@pytest.fixture(scope="session")
def model_path() -> Path:
    value = os.environ.get("JUNCTION_TEST_MODEL", "")
    require(bool(value), "JUNCTION_TEST_MODEL is not set (path to yolox_nano.onnx)")
    path = Path(value)
    require(path.is_file(), f"JUNCTION_TEST_MODEL points to no file: {path}")
    return path


@pytest.fixture
def config_patch(tmp_path) -> Path:
    path = tmp_path / "site-patch.yaml"
    path.write_text(
        "bucket_seconds: 120\n"
        "cameras:\n"
        "  - name: north\n"
        "    source: rtsp://10.0.0.2/stream\n"
        "    lines:\n"
        "      - {name: north-stopline, points: [[100, 200], [500, 210]]}\n"
    )
    return path


def publish(
    name: str,
    *,
    model: Path | None = None,
    config: Path | None = None,
    region: str = "eu-west",
    extra: list[str] | None = None,
) -> dict:
    args = ["release_publish", "--name", name, "--region", region, "--json", *(extra or [])]
    if model is not None:
        args += ["--model", str(model)]
    if config is not None:
        args += ["--config", str(config)]
    return json.loads(_out(*args))


def command_json(*args: str) -> dict:
    return json.loads(_out(*args, "--json"))


def _out(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


_signed: set[tuple[str, bytes, int]] = set()


def signed_headers(device: DevicePersona, message: bytes, *, at: int | None = None) -> dict:
    """DESIGN.md section 4's headers; a GET signs `GET <path>` in place of a body.

    The same check-in twice in one second would be the same signature, which the platform
    rightly refuses as a replay; a real device polls minutes apart, so a repeat here is signed
    a second earlier instead."""
    stamp = int(time.time()) if at is None else at
    while at is None and (device.device_id, message, stamp) in _signed:
        stamp -= 1
    _signed.add((device.device_id, message, stamp))
    digest = hmac.new(
        device.secret.encode(), str(stamp).encode() + b"." + message, hashlib.sha256
    ).hexdigest()
    return {
        "X-Junction-Device": device.device_id,
        "X-Junction-Timestamp": str(stamp),
        "X-Junction-Signature": f"v1={digest}",
    }


def django_headers(headers: dict) -> dict:
    return {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}


def checkin(client, device: DevicePersona, *, region: str | None = None, **report):
    body = json.dumps(
        {"schema": "junction.checkin/v1", "device_id": device.device_id, **report}
    ).encode()
    return client.post(
        f"/api/v1/fleet/{region or device.region}/checkin",
        data=body,
        content_type="application/json",
        **django_headers(signed_headers(device, body)),
    )


def repo_get(client, device: DevicePersona, path: str, **extra):
    return client.get(
        path, **django_headers(signed_headers(device, f"GET {path}".encode())), **extra
    )


@pytest.fixture(scope="session")
def videos_dir() -> Path:
    value = os.environ.get("JUNCTION_TEST_VIDEOS", "")
    require(bool(value), "JUNCTION_TEST_VIDEOS is not set (folder of the test clips)")
    path = Path(value)
    require(path.is_dir(), f"JUNCTION_TEST_VIDEOS points to no folder: {path}")
    return path
