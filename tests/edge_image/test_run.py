"""`run` inside the image, against a live platform (Django's live server behind the forwarding
receiver of the edge worker's tests) on the host's loopback, which the chroot shares: signed
batches stored, /healthz and the image's HEALTHCHECK answering, SIGTERM closing the open live
bucket into the spool, and a restart on the same spool volume sending what was left, once."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.edge_image.conftest import SITE, SPOOL, VIDEOS, container_site
from tests.edge_image.container import Container, Running, image_config
from tests.edge_worker.mjpeg_server import MjpegCamera
from tests.edge_worker.receiver import Receiver
from tests.edge_worker.test_durability import (
    ANCHOR,
    BUCKET_S,
    CLIP,
    DEVICE,
    EXPECTED_BUCKETS,
    PATIENCE_S,
    camera,
    delivered,
    finished_and_sent,
    healthz,
    iso,
    spooled_buckets,
)

pytest.importorskip("django")
LINE = {"name": "stop", "points": [[150, 200], [600, 200]]}
pytestmark = [
    pytest.mark.edge_image,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


@pytest.fixture
def platform(live_server) -> tuple[Receiver, str]:
    """The platform with the site, its counter and this device; the receiver in front of it can
    be switched down and keeps a copy of every bucket the platform stored."""
    from junction.sites import services as site_services

    site_services.region_add(code="eu-west", name="Europe West", min_bucket_seconds=BUCKET_S)
    site_services.site_add(
        slug="main-and-5th", region="eu-west", name="Main St & 5th Ave", counters={"stop": {}}
    )
    secret = site_services.device_add(device_id=DEVICE, site="main-and-5th").secret
    with Receiver({}, upstream=live_server.url) as receiver:
        yield receiver, secret


def start(box: Container, log: Path) -> Running:
    return box.start("run", "--config", f"{SITE}/site.yaml", log=log)


def wait_for(condition: Callable[[], bool], what: str, worker: Running, port: int) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        if condition():
            return
        if not worker.alive():
            pytest.fail(f"the container's worker ended waiting for {what}:\n{worker.output()}")
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; health {healthz(port)}\n{worker.output()}")


def healthcheck(box: Container, port: int) -> int:
    """The image's own HEALTHCHECK command, run in the container as Docker runs it."""
    test = image_config(box.image)["Healthcheck"]["Test"]
    assert test[0] == "CMD"
    return box.exec(*test[1:], env={"JUNCTION_HEALTH_PORT": str(port)}, timeout=30).status


def stored_buckets() -> int:
    from junction.traffic.models import CountBucket

    return CountBucket.objects.in_region("eu-west").count()


def test_run_with_a_file_camera_sends_signed_batches_to_the_platform_and_answers_health(
    platform, container, site_folder, model_path, tmp_path
):
    receiver, secret = platform
    file_camera = camera("north", Path(f"{VIDEOS}/{CLIP}"), "stop")  # on the clip's own timeline
    port = container_site(site_folder, model_path, receiver.url, secret, file_camera)
    worker = start(container(), tmp_path / "worker.log")
    try:
        wait_for(lambda: finished_and_sent(port), "every bucket delivered", worker, port)
        assert healthz(port)["device_id"] == DEVICE
        assert healthcheck(container(), port) == 0
    finally:
        status = worker.terminate()
    assert status == 0, worker.output()
    assert healthcheck(container(), port) != 0  # nothing answers any more

    buckets = delivered(receiver)  # each bucket stored once
    assert len(buckets) == EXPECTED_BUCKETS == stored_buckets()
    assert (min(buckets), max(buckets)) == (iso(ANCHOR), iso(ANCHOR + 36))
    cars_in = sum(
        c["count"]
        for b in buckets.values()
        for c in b["counts"]
        if c["direction"] == "in" and c["class"] in ("car", "truck")
    )
    assert cars_in == 8  # the clip's hand count


SPOOL_CONTENT = f"""
import json, sqlite3
db = sqlite3.connect("{SPOOL}/spool.db")
print(json.dumps({{
    "unsent": [r[0] for r in db.execute("SELECT start FROM camera_bucket ORDER BY start")],
    "resume": db.execute("SELECT next_start FROM camera_progress").fetchone()[0],
}}))
"""


def spool_content(box: Container) -> dict:
    """What the spool volume holds, read in the image by its user."""
    result = box.exec("python", "-c", SPOOL_CONTENT)
    assert result.status == 0, result.stderr
    return json.loads(result.stdout)


def test_sigterm_closes_the_open_live_bucket_into_the_spool_and_a_restart_sends_all_once(
    platform, container, site_folder, model_path, tmp_path, live_clip
):
    receiver, secret = platform
    with MjpegCamera(live_clip, frames=240) as live:
        live_camera = {"name": "north", "source": live.url, "stride": 3, "lines": [LINE]}
        port = container_site(site_folder, model_path, receiver.url, secret, live_camera)
        # The platform is down: every closed bucket stays in the spool.
        receiver.down = True
        worker = start(container(), tmp_path / "first.log")
        try:
            wait_for(lambda: spooled_buckets(port) >= 3, "buckets in the spool", worker, port)
        finally:
            stopped_at = time.time()
            status = worker.terminate()
        assert status == 0, worker.output()
        left = spool_content(container())
        # Closed by the clock, a live bucket is spooled only LIVE_LATENESS_S after its end; the
        # one open at the SIGTERM ends after it, so it was closed by the stop, not lost.
        assert left["resume"] > stopped_at
        assert left["unsent"][-1] + BUCKET_S == left["resume"]
        assert len(left["unsent"]) >= 3 and receiver.batches == {}

        # Back up, and the worker restarted on the same spool volume.
        receiver.down = False
        worker = start(container(), tmp_path / "second.log")
        wanted = {iso(start) for start in left["unsent"]}
        try:
            wait_for(lambda: wanted <= set(receiver.buckets), "the spool sent", worker, port)
        finally:
            status = worker.terminate()
        assert status == 0, worker.output()

    buckets = delivered(receiver)  # each bucket stored once, the ones left over included
    assert wanted <= set(buckets)
    assert stored_buckets() == len(buckets)
    assert min(buckets) == iso(left["unsent"][0])
