"""Edge worker bench: wall-clock real time per core, pinned to one core, and counts, per clip.

    .venv/bin/python bench/edge.py [MODEL.onnx] [VIDEOS_DIR] [--core 1] [--strides 1-5]
        [--metamorphic] [--letterbox tight] [--int8]

Paths default to $JUNCTION_TEST_MODEL and $JUNCTION_TEST_VIDEOS. The process first pins itself
to one CPU (`--core`, default 1: what `taskset -c 1` does), so the decoder, the prefetch thread,
the detector and the tracker share that core as one camera's process on an edge box would. For
every clip of the footage (tests/edge_worker/metamorphic.py's lines) and each stride it prints,
all measured in this one run, as real-time factors (seconds of video per second of wall clock):
- decode only: every frame decoded and converted, nothing else: the ceiling at any stride;
- detector only: the video's length over the time spent inside `detect` on that stride's pass,
  i.e. the pipeline if decoding, tracking and counting were free;
- pipeline: the count command's path (decode + detect + track + count) by the wall clock. This
  is the figure that sizes an edge box: 10x means one core keeps up with ten cameras;
- core share: this process's CPU time over that wall time. Near 1 the core was the bench's
  alone; lower, other processes ran on it and every figure of that row is low by that much.
Then the counts at each stride, the ground truth where the clip has one, and with
`--metamorphic` the metamorphic suite's table in full (every variant against the forward counts;
shake and re-encoding run the detector again, a few minutes more).

`--int8` (issue 12 item 6) also runs, per clip, the INT8 copy that `python -m edge_worker
quantize-model` makes of the model, calibrated on that clip's own footage as a site's copy is on
the site's, and prints it beside the FP32 passes above: pipeline real time, the pipeline's CPU ms
and the detector's wall ms per analysed frame, counts, and INT8/FP32 ratios. Without `--clip` it
keeps to the clips with ground truth. The copies are kept in the temp dir under a digest of the
model, the clip and the calibration frames, so a second run skips the calibration (about a
minute per clip).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_worker.analyser import RECOMMENDED_STRIDE, build_analyser  # noqa: E402
from edge_worker.commands.quantize_model import DEFAULT_FRAMES, quantize  # noqa: E402
from edge_worker.count import CounterSet, LineSpec  # noqa: E402
from edge_worker.detect import DetectorSettings, OnnxDetector  # noqa: E402
from edge_worker.detections import Detections  # noqa: E402
from edge_worker.video import VideoFile, prefetched  # noqa: E402
from tests.edge_worker.metamorphic import (  # noqa: E402
    CLIP_LINES,
    FORWARD,
    VARIANTS,
    Footage,
    PixelsUnavailable,
)


class TimedDetector:
    """Wraps a detector, adds up the wall time spent inside `detect` and keeps its answers."""

    def __init__(self, detector) -> None:
        self._detector = detector
        self.seconds = 0.0
        self.answers: list[Detections] = []

    def detect(self, frame: np.ndarray) -> Detections:
        began = time.perf_counter()
        try:
            answer = self._detector.detect(frame)
        finally:
            self.seconds += time.perf_counter() - began
        self.answers.append(answer)
        return answer


@dataclass
class Pass:
    analysed: int
    wall_s: float
    cpu_s: float
    detect_s: float
    video_s: float
    totals: Counter
    detector: TimedDetector

    @property
    def realtime(self) -> float:
        return self.video_s / self.wall_s

    @property
    def core_share(self) -> float:
        """How much of the wall clock this process had the core: below 1, others were on it."""
        return self.cpu_s / self.wall_s

    @property
    def detector_realtime(self) -> float:
        return self.video_s / self.detect_s

    @property
    def cpu_ms(self) -> float:
        """This process's CPU time per analysed frame (decode, detect, track, count)."""
        return 1000 * self.cpu_s / self.analysed

    @property
    def detect_ms(self) -> float:
        """The detector's wall time per analysed frame, in milliseconds."""
        return 1000 * self.detect_s / self.analysed


def decode_only(path: Path) -> float:
    """Real-time factor of decoding every frame, by the wall clock."""
    recording = VideoFile(path)
    began = time.perf_counter()
    frames = sum(1 for _ in recording)
    return frames / recording.fps / (time.perf_counter() - began)


def pipeline(
    path: Path, model: Path, line: LineSpec, stride: int, detector: DetectorSettings | None
) -> Pass:
    """The count command's path: VideoFile -> Analyser, with a stopwatch on the detector."""
    analyser = build_analyser(
        model_path=model,
        counters=CounterSet(lines=[line]),
        stride=stride,
        detector_settings=detector,
    )
    timed = TimedDetector(analyser.detector)
    analyser.detector = timed
    recording = VideoFile(path, stride)
    totals: Counter = Counter()
    analysed = 0
    t = 0.0
    began, cpu = time.perf_counter(), time.process_time()
    for t, frame in prefetched(recording):
        for event in analyser.analyse(frame, t).events:
            totals[event.direction] += 1
        analysed += 1
    for event in analyser.finish(t).events:  # as the count command does
        totals[event.direction] += 1
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    video_s = recording.frames_read / recording.fps
    return Pass(analysed, wall, cpu, timed.seconds, video_s, totals, timed)


def int8_copy(model: Path, clip: Path) -> Path:
    """The INT8 copy of `model` calibrated on `clip`, made by quantize-model's own code; kept
    under a digest of what it is made from, so a changed model or clip is calibrated afresh."""
    digest = hashlib.sha256()
    for part in (model, clip):
        digest.update(part.read_bytes())
    digest.update(str(DEFAULT_FRAMES).encode())
    out = Path(tempfile.gettempdir()) / "junction-bench-int8" / f"{digest.hexdigest()[:16]}.onnx"
    if not out.exists():
        quantize(model, [clip], out)
    return out


def print_int8(copy: Path, fp32: dict[int, Pass], int8: dict[int, Pass]) -> None:
    """The INT8 copy's passes beside the FP32 ones of the same clip and strides. CPU ms per
    analysed frame (the whole pipeline's CPU time) is the fairer speed when the core was shared:
    the wall-clock figures of the two passes may have had different shares of it."""
    print(f"  INT8 copy (QDQ, calibrated on this clip, {copy.stat().st_size // 1024} KiB) vs FP32")
    print(
        "          pipeline (x)         CPU ms/frame          detector ms/frame"
        "       in/out       core share"
    )
    print(
        "  stride    FP32    INT8  ratio    FP32    INT8  ratio    FP32    INT8  ratio"
        "    FP32    INT8   FP32  INT8"
    )
    for k, full in fp32.items():
        small = int8[k]
        print(
            f"  {k:>6}  {full.realtime:6.1f}  {small.realtime:6.1f}"
            f"  {small.realtime / full.realtime:5.2f}"
            f"  {full.cpu_ms:6.1f}  {small.cpu_ms:6.1f}  {small.cpu_ms / full.cpu_ms:5.2f}"
            f"  {full.detect_ms:6.1f}  {small.detect_ms:6.1f}"
            f"  {small.detect_ms / full.detect_ms:5.2f}"
            f"  {full.totals['in']:>3}/{full.totals['out']:<3}"
            f" {small.totals['in']:>3}/{small.totals['out']:<3}"
            f"  {full.core_share:5.2f} {small.core_share:5.2f}"
        )


def strides(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=os.environ.get("JUNCTION_TEST_MODEL"))
    parser.add_argument("videos", nargs="?", default=os.environ.get("JUNCTION_TEST_VIDEOS"))
    parser.add_argument("--core", type=int, default=1, help="the one CPU to run on")
    parser.add_argument("--strides", type=strides, default=strides("1-5"), metavar="A-B")
    parser.add_argument("--clip", action="append", help="only this clip (repeatable)")
    parser.add_argument("--letterbox", choices=["square", "tight"], default="square")
    parser.add_argument(
        "--metamorphic", action="store_true", help="also print the metamorphic table in full"
    )
    parser.add_argument(
        "--int8",
        action="store_true",
        help="also run the INT8 copy quantize-model makes, calibrated on each clip",
    )
    args = parser.parse_args()
    if not args.model or not args.videos:
        parser.error("give MODEL and VIDEOS_DIR, or set JUNCTION_TEST_MODEL/JUNCTION_TEST_VIDEOS")
    model, videos = Path(args.model), Path(args.videos)
    # Before ONNX Runtime or the prefetch thread start: threads inherit the affinity.
    os.sched_setaffinity(0, {args.core})
    truth = json.loads((videos / "ground_truth.json").read_text())["clips"]
    settings = DetectorSettings(letterbox=args.letterbox)
    print(
        f"model {model.name}, letterbox {args.letterbox}, pinned to CPU {args.core} of"
        f" {os.cpu_count()}; recommended stride {RECOMMENDED_STRIDE}"
    )
    print("real time per core by the wall clock, decode included (x = video s per wall s)\n")
    workdir = Path(tempfile.mkdtemp(prefix="junction-bench-"))
    footage = Footage(OnnxDetector(model, settings), videos, workdir)
    labelled = [name for name in CLIP_LINES if "contract" in truth.get(name, {})]
    clips = args.clip or (labelled if args.int8 else list(CLIP_LINES))
    for name in clips:
        line = CLIP_LINES[name]
        decode = decode_only(videos / name)
        passes = {k: pipeline(videos / name, model, line, k, settings) for k in args.strides}
        first = next(iter(passes.values()))
        print(f"{name}: {first.video_s:.1f} s of video, decode-only ceiling x{decode:.1f}")
        print("  stride  pipeline  detector-only  pipeline/detector  core share   in  out")
        for k, run in passes.items():
            print(
                f"  {k:>6}  x{run.realtime:7.1f}  x{run.detector_realtime:12.1f}"
                f"  {run.realtime / run.detector_realtime:17.2f}  {run.core_share:10.2f}"
                f"  {run.totals['in']:>3}  {run.totals['out']:>3}"
            )
        if "contract" in truth.get(name, {}):
            expected = truth[name]["contract"]["expected"]
            print(
                f"  ground truth: in {sum(expected['in'].values())}"
                f"  out {sum(expected['out'].values())}  ({truth[name]['contract']['tolerance']})"
            )
        if 1 in passes:
            stride1 = passes[1]
            footage.remember(name, stride1.analysed / stride1.video_s, stride1.detector.answers)
        if args.int8:
            copy = int8_copy(model, videos / name)
            int8 = {k: pipeline(videos / name, copy, line, k, settings) for k in args.strides}
            print_int8(copy, passes, int8)
        print()
    if args.metamorphic:
        print_metamorphic(footage, clips)
    return 0


def print_metamorphic(footage: Footage, clips: list[str]) -> None:
    """Every variant's (in, out) against the forward counts; `!` marks a difference."""
    print("metamorphic suite (in/out; ! differs from forward; - cannot be made here)")
    print(f"  {'variant':<16}" + "".join(f"{Path(c).stem[:14]:>16}" for c in clips))
    for variant in (FORWARD, *VARIANTS):
        cells = []
        for clip in clips:
            try:
                counts = footage.counts(clip, variant)
            except PixelsUnavailable:
                cells.append("-")
                continue
            mark = "" if counts == footage.counts(clip, FORWARD) else "!"
            cells.append(f"{counts[0]}/{counts[1]}{mark}")
        print(f"  {variant.name:<16}" + "".join(f"{cell:>16}" for cell in cells))


if __name__ == "__main__":
    sys.exit(main())
