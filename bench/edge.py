"""Edge worker bench: decode, detector and whole-pipeline speed, and counts, on the test clips.

    .venv/bin/python bench/edge.py [MODEL.onnx] [VIDEOS_DIR] [--stride N]

Paths default to $JUNCTION_TEST_MODEL and $JUNCTION_TEST_VIDEOS. For each clip with a counting
line in ground_truth.json it prints, in one run:
- decode-only fps (OpenCV, every frame converted to BGR);
- detector-only fps (time inside `detect` alone) and pipeline fps (decode + detect + track +
  count, wall clock) measured on the same stride-1 pass, so machine load hits both alike;
- the pipeline at the recommended stride;
- counts at each stride against the ground truth, and at the recommended stride from each
  possible first frame (a live camera starts analysing wherever it happens to be);
- the real-time factor per CPU core: seconds of video analysed per CPU second of this process
  (time.process_time), which is what sizes an edge box: 10x means one core keeps up with ten
  cameras at that stride;
- the same two passes with the tight letterbox (DetectorSettings.letterbox), which a site may
  switch on after checking its counts: less inference, slightly different detections.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_worker.analyser import RECOMMENDED_STRIDE, Analyser, build_analyser  # noqa: E402
from edge_worker.count import CounterSet, Counting, LineSpec  # noqa: E402
from edge_worker.detect import DetectorSettings  # noqa: E402
from edge_worker.detections import Detections  # noqa: E402
from edge_worker.track import ByteTracker  # noqa: E402
from edge_worker.video import VideoFile, prefetched  # noqa: E402


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


class Replay:
    """A detector answering with stored detections, by the frame index it is given."""

    def __init__(self, answers: list[Detections]) -> None:
        self._answers = answers

    def detect(self, frame: np.ndarray) -> Detections:
        return self._answers[int(frame)]


@dataclass
class Pass:
    frames: int
    analysed: int
    wall_s: float
    cpu_s: float
    detect_s: float
    video_s: float
    totals: Counter
    detector: TimedDetector

    @property
    def fps(self) -> float:
        return self.analysed / self.wall_s

    @property
    def realtime_per_core(self) -> float:
        return self.video_s / self.cpu_s


def decode_only(path: Path) -> tuple[int, float]:
    began = time.perf_counter()
    frames = sum(1 for _ in VideoFile(path))
    return frames, frames / (time.perf_counter() - began)


def pipeline(
    path: Path, model: Path, line: LineSpec, stride: int, detector: DetectorSettings | None = None
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
    wall, cpu = time.perf_counter(), time.process_time()
    t = 0.0
    for t, frame in prefetched(recording):
        for event in analyser.analyse(frame, t).events:
            totals[event.direction] += 1
        analysed += 1
    for event in analyser.finish(t).events:  # as the count command does
        totals[event.direction] += 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    video_s = recording.frames_read / recording.fps
    return Pass(recording.frames_read, analysed, wall, cpu, timed.seconds, video_s, totals, timed)


def phase_counts(full: Pass, line: LineSpec, stride: int, fps: float) -> list[Counter]:
    """Counts at `stride` for each possible first frame, replaying the stride-1 detections.

    The detector sees each frame alone, so replaying its answers is exactly what a camera whose
    analysis happened to start 1, 2, ... frames later would compute.
    """
    results = []
    for phase in range(stride):
        analyser = Analyser(
            Replay(full.detector.answers), ByteTracker(), Counting(CounterSet(lines=[line]))
        )
        order = range(phase, full.frames, stride)
        totals: Counter = Counter()
        t = 0.0
        for position, index in enumerate(order):
            t = position * stride / fps
            for event in analyser.analyse(np.array(index), t).events:
                totals[event.direction] += 1
        for event in analyser.finish(t).events:
            totals[event.direction] += 1
        results.append(totals)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=os.environ.get("JUNCTION_TEST_MODEL"))
    parser.add_argument("videos", nargs="?", default=os.environ.get("JUNCTION_TEST_VIDEOS"))
    parser.add_argument("--stride", type=int, default=RECOMMENDED_STRIDE)
    args = parser.parse_args()
    if not args.model or not args.videos:
        parser.error("give MODEL and VIDEOS_DIR, or set JUNCTION_TEST_MODEL/JUNCTION_TEST_VIDEOS")
    model, videos = Path(args.model), Path(args.videos)
    clips = json.loads((videos / "ground_truth.json").read_text())["clips"]
    print(f"model {model.name}, {os.cpu_count()} CPU(s); recommended stride {args.stride}\n")
    for name, truth in clips.items():
        if "line" not in truth:
            continue
        (x1, y1), (x2, y2) = truth["line"]
        line = LineSpec(name="line", x1=x1, y1=y1, x2=x2, y2=y2)
        expected = truth["contract"]["expected"]
        frames, decode_fps = decode_only(videos / name)
        full = pipeline(videos / name, model, line, 1)
        sparse = pipeline(videos / name, model, line, args.stride)
        tight = DetectorSettings(letterbox="tight")
        tight_full = pipeline(videos / name, model, line, 1, tight)
        tight_sparse = pipeline(videos / name, model, line, args.stride, tight)
        print(f"{name}: {frames} frames, {full.video_s:.1f} s of video")
        print(f"  decode only                 {decode_fps:8.1f} fps")
        print(f"  detector only               {full.analysed / full.detect_s:8.1f} fps")
        print(
            f"  pipeline, stride 1          {full.fps:8.1f} fps"
            f"  ({100 * full.fps * full.detect_s / full.analysed:.0f}% of detector-only)"
        )
        print(
            f"  pipeline, stride {args.stride:<2}         {sparse.fps:8.1f} analysed fps,"
            f" {sparse.frames / sparse.wall_s:.1f} video fps"
        )
        runs = (
            ("stride 1 ", full),
            (f"stride {args.stride:<2}", sparse),
            ("stride 1  tight letterbox", tight_full),
            (f"stride {args.stride:<2} tight letterbox", tight_sparse),
        )
        for label, run in runs:
            counts = f"in {run.totals['in']:>2}  out {run.totals['out']:>2}"
            print(
                f"  {label:<26} counts {counts}"
                f"   real time x{run.realtime_per_core:5.1f} per CPU core"
                f" ({1000 * run.detect_s / run.analysed:4.1f} ms detect per analysed frame)"
            )
        phases = phase_counts(full, line, args.stride, full.frames / full.video_s)
        print(
            f"  stride {args.stride:<2} from each first frame   "
            f" in {'/'.join(str(c['in']) for c in phases)}"
            f"  out {'/'.join(str(c['out']) for c in phases)}   (stride-1 detections replayed)"
        )
        print(
            f"  ground truth: in {_total(expected['in'])}  out {_total(expected['out'])}"
            f"  ({truth['contract']['tolerance']})\n"
        )
    return 0


def _total(counts: dict[str, int]) -> int:
    return sum(counts.values())


if __name__ == "__main__":
    sys.exit(main())
