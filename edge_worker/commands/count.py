"""`count VIDEO --model M.onnx --line NAME=X1,Y1,X2,Y2 ...`: count a recorded video.

Traffic studies are often run on recordings, so this is the same analysis as a live camera,
printed as totals per counter, direction and class (DESIGN.md section 5).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from edge_worker.count.schema import CounterSet, LineSpec
from edge_worker.detect.settings import DetectorSettings
from edge_worker.video import VideoError, VideoFile, prefetched

Totals = Counter[tuple[str, str | None, str]]


class UsageError(Exception):
    """A bad argument or input file; reported as one line on stderr."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "count",
        help="count a recorded video through counting lines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("video", metavar="VIDEO", help="the recording to count")
    parser.add_argument("--model", help="detector ONNX file (default: the site file's model)")
    parser.add_argument(
        "--line",
        action="append",
        default=[],
        metavar="NAME=X1,Y1,X2,Y2",
        help="a counting line in pixels; `in` crosses it from its right to its left, seen "
        "looking from P1 to P2 (DESIGN.md section 5); repeatable",
    )
    parser.add_argument("--config", help="take counters from a site file (or a counters file)")
    parser.add_argument("--camera", help="which camera of the site file (if it has several)")
    parser.add_argument("--stride", type=int, default=1, help="analyse every N-th frame")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--csv", metavar="PATH", help="also write the totals as CSV")
    parser.set_defaults(handler=count_video)


def count_video(args: argparse.Namespace) -> int:
    try:
        if args.stride < 1:
            raise UsageError("--stride must be at least 1")
        counters, site = _counters(args)
        model = args.model or site.model
        if not model:
            raise UsageError("--model is required (or a site file with a model)")
        totals, performance = _run(args.video, model, counters, args.stride, site.detector)
    except (UsageError, VideoError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except _model_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = [
        {"counter": c, "direction": d, "class": k, "count": n}
        for (c, d, k), n in sorted(totals.items(), key=lambda item: _row_order(item[0]))
    ]
    if args.csv:
        _write_csv(Path(args.csv), rows)
    if args.json:
        print(json.dumps({"totals": rows, "performance": performance}))
    else:
        _print_table(rows, performance)
    return 0


def _run(
    video: str, model: str, counters: CounterSet, stride: int, detector: DetectorSettings | None
) -> tuple[Totals, dict]:
    # Imported here so that `--help` and argument errors do not wait for ONNX Runtime.
    from edge_worker.analyser import build_analyser

    recording = VideoFile(video, stride)
    analyser = build_analyser(
        model_path=model, counters=counters, stride=stride, detector_settings=detector
    )
    totals: Totals = Counter()
    analysed, t = 0, 0.0
    began = time.perf_counter()
    for t, frame in prefetched(recording):
        for event in analyser.analyse(frame, t).events:
            totals[(event.counter, event.direction, event.cls)] += 1
        analysed += 1
    # The recording has ended: crossings one observation short of settling count now.
    for event in analyser.finish(t).events:
        totals[(event.counter, event.direction, event.cls)] += 1
    seconds = time.perf_counter() - began
    performance = {
        "frames": recording.frames_read,
        "analysed_frames": analysed,
        "seconds": round(seconds, 2),
        # Frames of the recording got through per second: how much faster than real time.
        "fps": round(recording.frames_read / seconds, 1) if seconds > 0 else 0.0,
    }
    return totals, performance


def parse_line(text: str) -> LineSpec:
    """NAME=X1,Y1,X2,Y2 -> LineSpec; UsageError with the reason otherwise."""
    name, sep, coords = text.partition("=")
    parts = coords.split(",")
    if not sep or not name or len(parts) != 4:
        raise UsageError(f"--line {text!r}: expected NAME=X1,Y1,X2,Y2")
    try:
        x1, y1, x2, y2 = (float(p) for p in parts)
    except ValueError:
        raise UsageError(f"--line {text!r}: coordinates must be numbers") from None
    try:
        # model_validate: `points` is filled by the model's before-validator, which mypy cannot see.
        return LineSpec.model_validate({"name": name, "x1": x1, "y1": y1, "x2": x2, "y2": y2})
    except ValidationError as exc:
        raise UsageError(f"--line {text!r}: {_first_error(exc)}") from None


@dataclass(frozen=True)
class SiteCamera:
    """What the count command takes from a site file besides the counters."""

    model: str | None = None
    detector: DetectorSettings | None = None  # the camera's provider, threads and ROI


def _counters(args: argparse.Namespace) -> tuple[CounterSet, SiteCamera]:
    lines = [parse_line(text) for text in args.line]
    site = SiteCamera()
    extra = CounterSet()
    if args.config:
        extra, site = _counters_from_file(Path(args.config), args.camera)
    try:
        counters = CounterSet(
            lines=[*extra.lines, *lines],
            zones=extra.zones,
            movements=extra.movements,
            calibration=extra.calibration,
        )
    except ValidationError as exc:
        raise UsageError(_first_error(exc)) from None
    if not (counters.lines or counters.zones):
        raise UsageError("give at least one --line (or a --config with counters)")
    return counters, site


def _counters_from_file(path: Path, camera_name: str | None) -> tuple[CounterSet, SiteCamera]:
    """Counters of one camera of a site file, or of a file holding only counters."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold a mapping")
    if "cameras" not in data:
        try:
            return CounterSet.model_validate(data), SiteCamera()
        except ValidationError as exc:
            raise UsageError(f"{path}: {_first_error(exc)}") from None
    from edge_worker.config import ConfigError, load_config

    try:
        site = load_config(path)
    except ConfigError as exc:
        raise UsageError(" ".join(str(exc).split())) from None
    cameras = {camera.name: camera for camera in site.cameras}
    if camera_name is None and len(cameras) > 1:
        raise UsageError(
            f"{path} has several cameras; pick one with --camera ({', '.join(cameras)})"
        )
    name = camera_name or next(iter(cameras))
    if name not in cameras:
        raise UsageError(f"{path} has no camera {name!r} (it has {', '.join(cameras)})")
    camera = cameras[name]
    counters = CounterSet(
        lines=camera.lines,
        zones=camera.zones,
        movements=camera.movements,
        calibration=camera.calibration,
    )
    return counters, SiteCamera(str(site.model.path), camera.detector)


def _model_errors() -> tuple[type[Exception], ...]:
    from edge_worker.detect import ModelError

    return (ModelError,)


def _first_error(exc: ValidationError) -> str:
    item = exc.errors()[0]
    where = ".".join(str(part) for part in item["loc"])
    return f"{where}: {item['msg']}" if where else item["msg"]


def _row_order(key: tuple[str, str | None, str]) -> tuple[str, str, str]:
    counter, direction, cls = key
    return counter, direction or "", cls


def _write_csv(path: Path, rows: list[dict]) -> None:
    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["counter", "direction", "class", "count"])
            writer.writeheader()
            writer.writerows(rows)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def _print_table(rows: list[dict], performance: dict) -> None:
    for row in rows:
        direction = row["direction"] or "-"
        print(f"{row['counter']:<20} {direction:<4} {row['class']:<11} {row['count']:>6}")
    if not rows:
        print("no crossings counted")
    print(
        f"{performance['frames']} frames, {performance['analysed_frames']} analysed "
        f"in {performance['seconds']} s ({performance['fps']} fps)"
    )
