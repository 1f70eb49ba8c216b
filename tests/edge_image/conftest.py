"""Fixtures for the edge image's smoke and contract tests (marker `edge_image`).

The image is built by `make edge-image` (cached by a hash of what the build reads) and named in
JUNCTION_EDGE_IMAGE by `make test-edge-image`. Without buildah, or without the image, these
tests skip with the reason; with JUNCTION_REQUIRE_SERVICES=1 (CI) they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import require
from tests.edge_image.container import Container, image_missing, image_user, tools_missing
from tests.edge_worker import conftest as edge_worker_fixtures
from tests.edge_worker.test_durability import site_file

# The model and the footage, as the edge worker's own tests find them (JUNCTION_TEST_MODEL,
# JUNCTION_TEST_VIDEOS), and the clip their live test cameras serve.
model_path = edge_worker_fixtures.model_path
videos_dir = edge_worker_fixtures.videos_dir
live_clip = edge_worker_fixtures.live_clip

# Where the tests mount things in the container.
SITE, MODELS, VIDEOS, SPOOL = "/site", "/models", "/videos", "/var/lib/junction"
MODEL = f"{MODELS}/yolox_nano.onnx"


def container_site(folder: Path, model: Path, endpoint: str, secret: str, camera: dict) -> int:
    """The durability tests' site file (2 s buckets, quick retries) and secret, in the folder
    mounted at /site, with the paths the container sees; returns the worker's health port."""
    config, port = site_file(folder, model, Path(camera["source"]), endpoint, secret, [camera])
    site = yaml.safe_load(config.read_text())
    site["model"]["path"] = MODEL
    site["spool"]["path"] = f"{SPOOL}/spool.db"
    config.write_text(yaml.safe_dump(site))
    return port


@pytest.fixture(scope="session")
def edge_image() -> str:
    missing = tools_missing()
    require(missing is None, str(missing))
    image = os.environ.get("JUNCTION_EDGE_IMAGE", "")
    missing = image_missing(image)
    require(missing is None, str(missing))
    return image


@pytest.fixture
def spool_volume(tmp_path: Path, edge_image: str) -> Path:
    """A named volume's stand-in: a host folder the image's user owns."""
    volume = tmp_path / "spool-volume"
    volume.mkdir()
    os.chown(volume, *image_user(edge_image))
    return volume


@pytest.fixture
def site_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    return folder


@pytest.fixture
def container(
    edge_image: str,
    tmp_path: Path,
    model_path: Path,
    videos_dir: Path,
    site_folder: Path,
    spool_volume: Path,
) -> Iterator[Callable[..., Container]]:
    """Makes containers of the image with the site folder, the model and the footage mounted
    read-only and the spool volume read-write; each is removed at the end of the test."""
    made: list[Container] = []

    def make(model: Path = model_path) -> Container:
        made.append(
            Container(
                edge_image,
                tmp_path / f"container-{len(made)}",
                {
                    site_folder: (SITE, "ro"),
                    model: (MODEL, "ro"),
                    videos_dir: (VIDEOS, "ro"),
                    spool_volume: (SPOOL, "rw"),
                },
            )
        )
        return made[-1]

    yield make
    for one in made:
        one.remove()
