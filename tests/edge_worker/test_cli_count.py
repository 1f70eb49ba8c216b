"""`python -m edge_worker count`: the DESIGN.md section 5 contract, errors and ground truth."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_worker.__main__ import main
from edge_worker.analyser import RECOMMENDED_STRIDE


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "empty_road.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 120))
    for _ in range(5):
        writer.write(np.full((120, 160, 3), 90, np.uint8))
    writer.release()
    return path


def run(args, capsys) -> tuple[int, str, str]:
    code = main(["count", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}", "--model", "{model}", "--line", "a=0,1,2,3"], "video file not found"),
        (["{video}", "--model", "{model}", "--line", "a=0,1,2"], "expected NAME=X1,Y1,X2,Y2"),
        (["{video}", "--model", "{model}", "--line", "a=0,1,x,3"], "must be numbers"),
        (["{video}", "--model", "{model}", "--line", "a=5,5,5,5"], "must differ"),
        (["{video}", "--model", "{model}", "--line", "a=0,1,2,3", "--stride", "0"], "--stride"),
        (["{video}", "--model", "{model}"], "at least one --line"),
        (["{video}", "--line", "a=0,1,2,3"], "--model is required"),
        (["{video}", "--model", "{missing}", "--line", "a=0,1,2,3"], "model file not found"),
        (["{video}", "--model", "{video}", "--line", "a=0,1,2,3"], "cannot load model"),
        (["{model}", "--model", "{model}", "--line", "a=0,1,2,3"], "cannot decode video"),
    ],
)
def test_errors_are_one_clear_line(tmp_path, tiny_video, capsys, args, message):
    bogus_model = tmp_path / "model.onnx"
    bogus_model.write_bytes(b"\x00not onnx")
    paths = {"missing": tmp_path / "nope", "video": tiny_video, "model": bogus_model}
    code, out, err = run([a.format(**paths) for a in args], capsys)
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_the_real_entry_point_prints_no_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge_worker",
            "count",
            str(tmp_path / "nope.mp4"),
            "--model",
            "m.onnx",
            "--line",
            "a=0,0,1,1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip() == f"error: video file not found: {tmp_path / 'nope.mp4'}"


def totals(document: dict) -> dict[str, int]:
    by_direction: dict[str, int] = {}
    for row in document["totals"]:
        by_direction[row["direction"]] = by_direction.get(row["direction"], 0) + row["count"]
    return by_direction


CLIPS = {
    # ground truth per the videos README in JUNCTION_TEST_VIDEOS: (line, `in` range, `out` range)
    "suburban_street_ahmetozlu.mp4": ("stop=150,200,600,200", (8, 8), (0, 0)),
    "urban_overhead_opencv4nodejs.mp4": ("mid=280,0,280,359", (6, 9), (16, 17)),
}


@pytest.mark.slow
@pytest.mark.parametrize("clip", CLIPS)
def test_counts_on_real_footage_are_within_the_ground_truth(model_path, videos_dir, capsys, clip):
    line, (in_low, in_high), (out_low, out_high) = CLIPS[clip]
    results = {}
    for stride in (1, RECOMMENDED_STRIDE):
        args = [videos_dir / clip, "--model", model_path, "--line", line, "--json"]
        code, out, err = run([*args, "--stride", stride], capsys)
        assert code == 0, err
        document = json.loads(out)
        assert set(document) == {"totals", "performance"}
        assert set(document["performance"]) == {"frames", "analysed_frames", "seconds", "fps"}
        assert (
            document["performance"]["frames"]
            == {
                "suburban_street_ahmetozlu.mp4": 905,
                "urban_overhead_opencv4nodejs.mp4": 480,
            }[clip]
        )
        assert document["performance"]["analysed_frames"] == -(
            -document["performance"]["frames"] // stride
        )
        for row in document["totals"]:
            assert set(row) == {"counter", "direction", "class", "count"}
            assert row["class"] in {"car", "truck"}  # a pickup may be called a truck
        found = totals(document)
        assert in_low <= found.get("in", 0) <= in_high, (stride, document)
        assert out_low <= found.get("out", 0) <= out_high, (stride, document)
        results[stride] = found
    assert results[RECOMMENDED_STRIDE] == results[1]


@pytest.mark.slow
def test_counters_from_a_file_and_csv_output(model_path, videos_dir, tmp_path, capsys):
    counters = tmp_path / "counters.yaml"
    counters.write_text("lines:\n  - {name: mid, points: [[280, 0], [280, 359]]}\n")
    table = tmp_path / "totals.csv"
    args = [
        videos_dir / "urban_overhead_opencv4nodejs.mp4",
        "--model",
        model_path,
        "--config",
        counters,
        "--csv",
        table,
        "--stride",
        6,
    ]
    code, out, err = run(args, capsys)
    assert code == 0, err
    rows = list(csv.DictReader(table.open()))
    assert rows and {r["counter"] for r in rows} == {"mid"}
    assert "analysed" in out  # the human-readable summary


SITE_FILE = Path(__file__).resolve().parents[2] / "examples" / "site.yaml"


def test_a_camera_missing_from_the_site_file_is_a_clear_error(tiny_video, capsys):
    code, out, err = run([tiny_video, "--config", SITE_FILE, "--camera", "south"], capsys)
    assert code != 0 and "has no camera 'south' (it has north)" in err


@pytest.mark.slow
def test_counters_and_detector_settings_come_from_a_site_file(model_path, videos_dir, capsys):
    args = [videos_dir / "suburban_street_ahmetozlu.mp4", "--model", model_path]
    code, out, err = run([*args, "--config", SITE_FILE, "--stride", 6, "--json"], capsys)
    assert code == 0, err
    # The example site's north stop line is the suburban clip's counting line.
    assert {(r["counter"], r["direction"]) for r in json.loads(out)["totals"]} == {
        ("north-stopline", "in")
    }
