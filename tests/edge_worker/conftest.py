"""Fixtures for the edge worker's tests."""

from __future__ import annotations

# --- Detector model and real footage (vision stage) -------------------------------------------
# Paths come from JUNCTION_TEST_MODEL (yolox_nano.onnx) and JUNCTION_TEST_VIDEOS (the clips and
# ground_truth.json); missing data skips on a developer machine and fails in CI (see `require`).
import json
import os
from pathlib import Path

import pytest

from tests.conftest import require


@pytest.fixture(scope="session")
def model_path() -> Path:
    value = os.environ.get("JUNCTION_TEST_MODEL", "")
    require(bool(value), "JUNCTION_TEST_MODEL is not set (path to yolox_nano.onnx)")
    path = Path(value)
    require(path.is_file(), f"JUNCTION_TEST_MODEL points to no file: {path}")
    return path


@pytest.fixture(scope="session")
def videos_dir() -> Path:
    value = os.environ.get("JUNCTION_TEST_VIDEOS", "")
    require(bool(value), "JUNCTION_TEST_VIDEOS is not set (folder of the test clips)")
    path = Path(value)
    require((path / "ground_truth.json").is_file(), f"no ground_truth.json in {path}")
    return path


@pytest.fixture(scope="session")
def ground_truth(videos_dir: Path) -> dict:
    return json.loads((videos_dir / "ground_truth.json").read_text(encoding="utf-8"))["clips"]


# The clip the live test cameras (live_camera.py) serve: 640x352 at 24 fps, whole blocks of 8 as
# RTP's JPEG needs; cars cross y=200 at frames 18, 75, ...
LIVE_CLIP = "suburban_street_ahmetozlu.mp4"


@pytest.fixture(scope="session")
def live_clip(videos_dir: Path) -> Path:
    require((videos_dir / LIVE_CLIP).is_file(), f"JUNCTION_TEST_VIDEOS lacks {LIVE_CLIP}")
    return videos_dir / LIVE_CLIP
