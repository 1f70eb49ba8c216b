"""The edge image's contract and hygiene: who it runs as, what it holds, and that its commands
behave inside it as on the host (DESIGN.md section 5 for `count`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pip
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.edge_image.conftest import MODEL, SITE, SPOOL, VIDEOS, container_site
from tests.edge_image.container import Container, image_config

pytestmark = pytest.mark.edge_image

REPO = Path(__file__).resolve().parents[2]
CLIP = "suburban_street_ahmetozlu.mp4"
# A PEM private key block, not just its marker.
PEM_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]{64}")
ENDPOINT = "https://eu-west.junction.example"
FILE_CAMERA = {
    "name": "north",
    "source": f"{VIDEOS}/{CLIP}",
    "lines": [{"name": "stop", "points": [[150, 200], [600, 200]]}],
}
COUNT_ARGS = ["--line", "stop=150,200,600,200", "--line", "exit=620,120,620,330", "--stride", "4"]


def test_it_runs_as_a_non_root_user_with_a_spool_volume_and_a_health_check(edge_image, container):
    config = image_config(edge_image)
    assert config["User"] and config["User"].split(":")[0] not in ("0", "root")
    assert SPOOL in config["Volumes"]
    assert config["WorkingDir"] == SPOOL
    assert config["StopSignal"] == "SIGTERM"
    assert config["Healthcheck"]["Test"][0] == "CMD"
    assert config["Entrypoint"] == ["python", "-m", "edge_worker"]

    result = container().exec("id", "-u")
    assert result.status == 0 and result.stdout.strip() == config["User"].split(":")[0]


def test_its_root_filesystem_can_be_read_only_and_only_the_spool_volume_takes_writes(container):
    # Everything the worker writes goes to the spool volume (and /dev/shm for its process
    # locks), so `docker run --read-only` works.
    box = container()
    for path in ("/opt/junction/x", "/x", "/tmp/x", "/var/tmp/x"):
        result = box.exec("touch", path)
        assert result.status != 0, path
    result = box.exec("touch", f"{SPOOL}/x")
    assert result.status == 0, result.stderr


def test_its_python_packages_are_exactly_the_lock_and_pip_check_passes(container):
    box = container()
    # The image's own environment markers and distributions, read with its own interpreter.
    script = (
        "import importlib.metadata as m, json, os, platform, sys\n"
        "env = {'implementation_name': sys.implementation.name,\n"
        "       'platform_machine': platform.machine(), 'platform_system': platform.system(),\n"
        "       'python_full_version': platform.python_version(),\n"
        "       'python_version': '.'.join(platform.python_version_tuple()[:2]),\n"
        "       'sys_platform': sys.platform, 'os_name': os.name,\n"
        "       'platform_python_implementation': platform.python_implementation()}\n"
        "dists = sorted([d.metadata['Name'], d.version] for d in m.distributions())\n"
        "print(json.dumps({'env': env, 'dists': dists}))\n"
    )
    result = box.exec("python", "-c", script)
    assert result.status == 0, result.stderr
    found = json.loads(result.stdout)
    installed = {canonicalize_name(name): version for name, version in found["dists"]}

    locked = {}
    for requirement in locked_requirements(REPO / "requirements" / "edge.lock"):
        if requirement.marker is None or requirement.marker.evaluate(found["env"]):
            (pin,) = requirement.specifier
            locked[canonicalize_name(requirement.name)] = pin.version
    assert installed.pop("junction") == "0.1.0"  # the worker itself, built from this checkout
    assert installed == locked

    # pip is not in the image (no package manager at run time): the host's pip checks it.
    pip_package = Path(pip.__file__).parent
    checker = container()
    checker.volumes[pip_package] = ("/run/pip-check/pip", "ro")
    result = checker.exec("python", "-m", "pip", "check", env={"PYTHONPATH": "/run/pip-check"})
    assert result.status == 0, result.stdout + result.stderr
    assert "No broken requirements found" in result.stdout


def locked_requirements(lock: Path) -> list[Requirement]:
    """The pinned lines of a pip-tools/uv lock file (hashes and comments left out)."""
    text = lock.read_text().replace("\\\n", " ")
    lines = [line.split(" --hash")[0].strip() for line in text.splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith("#")]


def test_no_file_in_the_image_holds_a_secret_a_key_or_the_platform(edge_image, container):
    box = container()
    known_secrets = [
        os.environ[name].encode()
        for name in ("DJANGO_SECRET_KEY", "JUNCTION_CREDENTIALS_KEY", "JUNCTION_DEVICE_SECRET")
        if os.environ.get(name)
    ]
    demo_devices = REPO / "var" / "demo-devices.json"
    if demo_devices.is_file():
        known_secrets += [d["secret"].encode() for d in json.loads(demo_devices.read_text())]
    # The platform's development key: found only if backend code were copied in.
    known_secrets.append(b"junction-development-only-not-secret")

    offenders = []
    for path in image_files(box):
        relative = "/" + str(path.relative_to(box.root))
        if path.name in ("demo-devices.json", "demo-users.json", "site.yaml", "secret"):
            offenders.append(relative)
            continue
        data = path.read_bytes()
        # TLS libraries carry their self-test keys compiled in: a leaked key is a file of its own.
        pem = not data.startswith(b"\x7fELF") and PEM_PRIVATE_KEY.search(data)
        if pem or any(secret in data for secret in known_secrets):
            offenders.append(relative)
    assert offenders == []


def image_files(box: Container) -> Iterator[Path]:
    """The image's regular files, without the container's mount points."""
    skipped = {box.root / target.lstrip("/") for target, _mode in box.volumes.values()}
    skipped |= {box.root / "proc", box.root / "sys", box.root / "dev"}
    for folder, dirs, names in os.walk(box.root):
        dirs[:] = [d for d in dirs if Path(folder) / d not in skipped]
        for name in names:
            path = Path(folder) / name
            if path not in skipped and path.is_file() and not path.is_symlink():
                yield path


def test_the_model_is_not_in_the_image_and_a_wrong_mounted_one_is_refused(
    container, site_folder, tmp_path, model_path
):
    assert [p for p in image_files(container()) if p.suffix == ".onnx"] == []

    # A mounted file that is not the one the site file names: the worker must not start.
    tampered = tmp_path / "tampered.onnx"
    tampered.write_bytes(b"\x00not the model")
    container_site(site_folder, model_path, ENDPOINT, "image-test-secret", FILE_CAMERA)
    result = container(model=tampered).run("run", "--config", f"{SITE}/site.yaml")
    assert result.status == 2
    assert "cannot start" in result.stderr and "sha256" in result.stderr.lower()


def test_validate_config_accepts_a_mounted_site_file_and_names_a_bad_keys_path(
    container, site_folder, model_path
):
    container_site(site_folder, model_path, ENDPOINT, "image-test-secret", FILE_CAMERA)
    box = container()
    result = box.run("validate-config", "--config", f"{SITE}/site.yaml")
    assert (result.status, result.stdout.strip()) == (0, "ok"), result.stderr

    bad = yaml.safe_load((site_folder / "site.yaml").read_text())
    bad["cameras"][0]["lines"][0]["nmae"] = bad["cameras"][0]["lines"][0].pop("name")
    (site_folder / "site.yaml").write_text(yaml.safe_dump(bad))
    result = box.run("validate-config", "--config", f"{SITE}/site.yaml")
    assert result.status == 1
    assert "cameras.0.lines.0.nmae" in result.stderr


@pytest.mark.slow
def test_count_in_the_image_gives_the_hosts_totals(container, model_path, videos_dir):
    inside = container().run("count", f"{VIDEOS}/{CLIP}", "--model", MODEL, *COUNT_ARGS, "--json")
    assert inside.status == 0, inside.stderr
    host = subprocess.run(
        [sys.executable, "-m", "edge_worker", "count", str(videos_dir / CLIP)]
        + ["--model", str(model_path), *COUNT_ARGS, "--json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    totals = json.loads(inside.stdout)["totals"]
    assert totals == json.loads(host.stdout)["totals"]
    # And they are the clip's hand count (DESIGN.md section 7): 8 cars in over the stop line.
    assert sum(t["count"] for t in totals if t["counter"] == "stop" and t["direction"] == "in") == 8
