"""Durability end to end: real `python -m edge_worker run` processes on real footage with the real
model, killed with SIGKILL (once while the platform is down, once while a batch is in flight),
restarted, against a strict receiver that is down for a while. Every bucket must end up stored
exactly once, equal to what an undisturbed run delivers.

File sources put bucket time on the video's own timeline (cameras[].timeline_start), so the
buckets do not depend on how fast the machine analyses, and a replay after a crash is exact.
"""

from __future__ import annotations

import hashlib
import json
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from tests.conftest import require
from tests.edge_worker.receiver import Receiver

pytestmark = pytest.mark.slow

DEVICE, SECRET = "dev-durability", "durability-secret"
CLIP = "suburban_street_ahmetozlu.mp4"  # 905 frames at 24 fps: 37.7 s of video
BUCKET_S = 2
EXPECTED_BUCKETS = 19  # 0 s .. 36 s into the clip, the last one partial
# The clip's timeline starts at the last full hour but one: recent enough for the platform's
# retention rule, in the past so no bucket is "in the future", and the same for every run here.
ANCHOR = int(time.time()) // 3600 * 3600 - 3600
# Generous upper bounds only (a run takes ~10 s): the 2 cores are shared with other test runs.
PATIENCE_S = 300


@pytest.fixture(scope="module")
def footage(model_path: Path, videos_dir: Path) -> tuple[Path, Path]:
    require((videos_dir / CLIP).is_file(), f"JUNCTION_TEST_VIDEOS lacks {CLIP}")
    return model_path, videos_dir / CLIP


def free_port() -> int:
    """A port for the worker's health server. The worker binds it seconds later, and again after
    every restart, so it is taken from below the kernel's ephemeral range: a port in that range
    can meanwhile go to any outgoing connection on the machine (the health polls included)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    pick = random.SystemRandom()  # not the test-seeded generator: parallel runs must differ
    for _ in range(100):
        port = pick.randrange(10000, max(low, 10001))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def camera(name: str, clip: Path, line: str) -> dict:
    return {
        "name": name,
        "source": str(clip),
        "stride": 3,
        "timeline_start": datetime.fromtimestamp(ANCHOR, UTC).isoformat(),
        "lines": [{"name": line, "points": [[150, 200], [600, 200]]}],
    }


def site_file(
    folder: Path, model: Path, clip: Path, endpoint: str, secret: str = SECRET, cameras=None
) -> tuple[Path, int]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "secret").write_text(secret)
    port = free_port()
    site = {
        "device_id": DEVICE,
        "site": "main-and-5th",
        "region": "eu-west",
        "endpoint": endpoint,
        "secret_file": "secret",
        "model": {"path": str(model), "sha256": hashlib.sha256(model.read_bytes()).hexdigest()},
        "bucket_seconds": BUCKET_S,
        "spool": {"path": "spool.db"},
        "uplink": {"batch_buckets": 4, "backoff_base_s": 0.2, "backoff_cap_s": 1.0},
        "health": {"port": port},
        "cameras": cameras or [camera("north", clip, "stop")],
    }
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    return path, port


def start_worker(config: Path) -> subprocess.Popen:
    # The log goes to a file beside the site file: a pipe nobody reads fills up during a long
    # outage and blocks the worker's logging, which would look like a hang.
    with (config.parent / "worker.log").open("a") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "edge_worker", "run", "--config", str(config)],
            cwd=Path(__file__).resolve().parents[2],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def worker_log(config: Path) -> str:
    return (config.parent / "worker.log").read_text()[-5000:]


def healthz(port: int) -> dict | None:
    """The worker's /healthz body, also when it answers 503 (a camera down or stalled): the body
    says why. None only when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            try:
                return json.load(error)
            except (OSError, json.JSONDecodeError):
                return None
    except OSError:
        return None
    except json.JSONDecodeError:
        return None


def wait_for(condition, what: str, worker: subprocess.Popen, config: Path, port: int) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        if condition():
            return
        if worker.poll() is not None:
            pytest.fail(
                f"worker exited with {worker.returncode} waiting for {what}:\n{worker_log(config)}"
            )
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; health {healthz(port)}\n{worker_log(config)}")


def spooled_buckets(port: int) -> int:
    health = healthz(port)
    if health is None:
        return 0
    return health["spool"]["unsent_buckets"] + health["spool"]["delivered_buckets"]


def finished_and_sent(port: int) -> bool:
    health = healthz(port)
    return bool(
        health
        and all(c["state"] == "finished" for c in health["cameras"].values())
        and health["spool"]["unsent_buckets"] == 0
    )


def stop_gracefully(worker: subprocess.Popen, config: Path) -> None:
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, worker_log(config)


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for whoever inherited it to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def kill_hard(worker: subprocess.Popen) -> None:
    children = children_of(worker.pid)
    assert children, "the worker should run a camera process"
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    # Its camera processes must die with it: an orphan would keep counting into the spool.
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in children):
        assert time.monotonic() < deadline, f"orphaned camera processes {children}"
        time.sleep(0.1)


def delivered(receiver: Receiver) -> dict[str, dict]:
    copies = {start: len(stored) for start, stored in receiver.buckets.items()}
    assert all(n == 1 for n in copies.values()), f"buckets stored twice: {copies}"
    return {start: stored[0] for start, stored in receiver.buckets.items()}


@pytest.fixture(scope="module")
def undisturbed(footage, tmp_path_factory) -> dict[str, dict]:
    """What the platform gets when nothing goes wrong: the reference."""
    model, clip = footage
    with Receiver({DEVICE: [SECRET]}) as receiver:
        config, port = site_file(tmp_path_factory.mktemp("reference"), model, clip, receiver.url)
        worker = start_worker(config)
        try:
            wait_for(lambda: finished_and_sent(port), "the reference run", worker, config, port)
        finally:
            stop_gracefully(worker, config)
        return delivered(receiver)


def test_the_undisturbed_run_delivers_every_bucket_of_the_clip(undisturbed):
    assert len(undisturbed) == EXPECTED_BUCKETS
    starts = sorted(undisturbed)
    assert (starts[0], starts[-1]) == (iso(ANCHOR), iso(ANCHOR + 36))
    assert all(b["uptime"] == 1.0 for s, b in undisturbed.items() if s != starts[-1])
    cars_in = sum(
        c["count"]
        for b in undisturbed.values()
        for c in b["counts"]
        if c["direction"] == "in" and c["class"] in ("car", "truck")
    )
    assert cars_in == 8  # the clip's hand count (DESIGN.md test data, tolerance exact)


def iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def kill_outage_and_lost_answer(receiver: Receiver, config: Path, port: int) -> None:
    """The disturbances, in order; afterwards every bucket must be stored, each once."""
    # 1. The platform is down; the worker spools a few buckets and is killed with -9.
    receiver.down = True
    worker = start_worker(config)
    wait_for(lambda: spooled_buckets(port) >= 4, "buckets in the spool", worker, config, port)
    kill_hard(worker)

    # 2. The platform is back but the first batch's answer never arrives: the batch is
    # stored, the answer held back, and the worker is killed while waiting for it.
    receiver.down = False
    release = threading.Event()
    receiver.hold_after_store = release
    worker = start_worker(config)
    wait_for(lambda: receiver.batches, "the first stored batch", worker, config, port)
    kill_hard(worker)
    receiver.hold_after_store = None
    release.set()

    # 3. A clean run resends the batch in flight (same id, same body: 200), then the rest.
    worker = start_worker(config)
    wait_for(lambda: finished_and_sent(port), "every bucket delivered", worker, config, port)
    stop_gracefully(worker, config)


def test_kills_and_a_platform_outage_lose_and_duplicate_nothing(footage, tmp_path, undisturbed):
    model, clip = footage
    with Receiver({DEVICE: [SECRET]}) as receiver:
        config, port = site_file(tmp_path, model, clip, receiver.url)
        kill_outage_and_lost_answer(receiver, config, port)
        first_batch = next(iter(receiver.batches))

    assert delivered(receiver) == undisturbed
    assert 200 in receiver.answers
    assert sum(1 for r in receiver.requests if first_batch.encode() in r["body"]) >= 2


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_real_platform_stores_every_bucket_once_through_kills_and_an_outage(
    footage, tmp_path, undisturbed, live_server
):
    pytest.importorskip("django")
    from junction.sites import services as site_services
    from junction.traffic.models import CountBucket

    # A region that accepts the test's 2 s buckets, and the site's one counting line.
    site_services.region_add(code="eu-west", name="Europe West", min_bucket_seconds=BUCKET_S)
    site_services.site_add(
        slug="main-and-5th", region="eu-west", name="Main St & 5th Ave", counters={"stop": {}}
    )
    secret = site_services.device_add(device_id=DEVICE, site="main-and-5th").secret
    model, clip = footage
    # The platform sits behind a forwarding receiver, which is what can be switched down.
    with Receiver({}, upstream=live_server.url) as platform:
        config, port = site_file(tmp_path, model, clip, platform.url, secret)
        kill_outage_and_lost_answer(platform, config, port)

    assert delivered(platform) == undisturbed
    assert 200 in platform.answers
    assert CountBucket.objects.in_region("eu-west").count() == EXPECTED_BUCKETS


def test_two_camera_processes_share_the_spool_and_every_site_bucket_carries_both(
    footage, tmp_path, undisturbed
):
    model, clip = footage
    # The same clip twice, as two approaches with their own line: both halves must match the
    # single-camera reference exactly, bucket by bucket.
    cameras = [camera("north", clip, "stop"), camera("south", clip, "stop-south")]
    with Receiver({DEVICE: [SECRET]}) as receiver:
        config, port = site_file(tmp_path, model, clip, receiver.url, cameras=cameras)
        worker = start_worker(config)
        wait_for(lambda: finished_and_sent(port), "both cameras delivered", worker, config, port)
        stop_gracefully(worker, config)
    site = delivered(receiver)
    assert sorted(site) == sorted(undisturbed)
    for start, bucket in site.items():
        assert bucket["uptime"] == undisturbed[start]["uptime"]
        for line in ("stop", "stop-south"):
            mine = [{**c, "counter": "stop"} for c in bucket["counts"] if c["counter"] == line]
            assert mine == undisturbed[start]["counts"], (start, line)
