"""`quantize-model --model M.onnx --calibration VIDEO [--calibration VIDEO] --out M-int8.onnx`:
a static INT8 (QDQ) copy of the detector, calibrated on frames of the site's own footage.

Run on an operator's machine, not on the pole: it needs the `onnx` package (`pip install
'junction[quantize]'`), which the edge image leaves out. ONNX Runtime's quantization tools do the
work: shape inference and graph fusion first (`quant_pre_process`), then `quantize_static` with
QDQ nodes, per-channel int8 weights and uint8 activations whose ranges come from the calibration
frames. The frames are fed exactly as the worker feeds them (letterbox, padding, channel order),
so the ranges are those of the inputs the model will really see. Whether the copy still counts
like the original is checked on footage (`release_publish --check-clip`, `bench/edge.py`), not
assumed here.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge_worker.detect.onnx import ModelError, OnnxDetector
from edge_worker.video import VideoError, VideoFile

log = logging.getLogger(__name__)

DEFAULT_FRAMES = 64  # over all the calibration videos; the ranges settle well before this
MIN_OPSET = 13


class QuantizeError(Exception):
    """The copy cannot be made; the message says what to change."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "quantize-model",
        help="make a static INT8 (QDQ) copy of the detector, calibrated on the site's footage",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", required=True, type=Path, help="the FP32 ONNX detector")
    parser.add_argument(
        "--calibration",
        required=True,
        action="append",
        type=Path,
        metavar="VIDEO",
        help="footage of the site (repeatable)",
    )
    parser.add_argument("--out", required=True, type=Path, help="where to write the INT8 copy")
    parser.add_argument(
        "--frames",
        type=int,
        default=DEFAULT_FRAMES,
        help=f"calibration frames in all, spread evenly (default {DEFAULT_FRAMES})",
    )
    parser.set_defaults(handler=quantize_model)


def quantize_model(args: argparse.Namespace) -> int:
    try:
        summary = quantize(args.model, args.calibration, args.out, frames=args.frames)
    except (QuantizeError, ModelError, VideoError) as exc:
        print(f"quantize-model: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


def quantize(model: Path, videos: list[Path], out: Path, *, frames: int = DEFAULT_FRAMES) -> dict:
    """Write the INT8 copy of `model` to `out`; returns what was done, digests included."""
    try:
        import onnx
        from onnx import version_converter
        from onnxruntime.quantization import (
            CalibrationDataReader,
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_static,
        )
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:
        raise QuantizeError(
            f"ONNX Runtime's quantization tools need the onnx package ({exc}); install it with "
            "pip install 'junction[quantize]' on the machine that makes releases"
        ) from exc
    if frames < 1:
        raise QuantizeError("--frames must be at least 1")
    if out.resolve() == model.resolve():
        raise QuantizeError("--out must not be the model itself")
    detector = OnnxDetector(model)  # the worker's own loader: a model it cannot run fails here
    inputs = list(_calibration_inputs(detector, videos, frames))
    name = detector.input_name

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self._next = iter(inputs)

        def get_next(self) -> dict[str, np.ndarray] | None:
            blob = next(self._next, None)
            return None if blob is None else {name: blob}

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as work:
        # Per-channel scales need DequantizeLinear's `axis`, which came with opset 13; older
        # exports (YOLOX's own is opset 11) are converted first, which changes no result.
        source = onnx.load(str(model))
        if _opset(source) < MIN_OPSET:
            upgraded = Path(work) / "opset13.onnx"
            onnx.save(version_converter.convert_version(source, MIN_OPSET), str(upgraded))
            model_in = upgraded
        else:
            model_in = model
        prepared = Path(work) / "prepared.onnx"
        quant_pre_process(str(model_in), str(prepared), skip_symbolic_shape=True)
        written = Path(work) / out.name
        # Measured on the shared clips (a quantized head counted 0-3 of 8 cars): only the
        # convolutions are quantized, the last ones before the outputs stay in float (boxes in
        # pixels and scores in 0-1 share one output, which one 8-bit range cannot hold), and
        # activation ranges are the 99.99th percentile, not the extremes of a few frames.
        # Its calibrator prints progress on stdout, which carries this command's JSON answer.
        with contextlib.redirect_stdout(sys.stderr):
            quantize_static(
                str(prepared),
                str(written),
                Frames(),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["Conv"],
                nodes_to_exclude=_output_convolutions(onnx.load(str(prepared))),
                calibrate_method=CalibrationMethod.Percentile,
                extra_options={"CalibPercentile": 99.99},
            )
        OnnxDetector(written)  # the copy must load and run in the worker before it is kept
        written.replace(out)
    return {
        "model": str(model),
        "model_sha256": _sha256(model),
        "model_bytes": model.stat().st_size,
        "out": str(out),
        "out_sha256": _sha256(out),
        "out_bytes": out.stat().st_size,
        "format": "QDQ, int8 weights per channel, uint8 activations",
        "calibration": [str(v) for v in videos],
        "calibration_frames": len(inputs),
    }


def _calibration_inputs(
    detector: OnnxDetector, videos: list[Path], frames: int
) -> Iterator[np.ndarray]:
    """`frames` network inputs spread evenly over the videos' frames, as the worker makes them."""
    per_video = [
        max(1, frames * (i + 1) // len(videos) - frames * i // len(videos))
        for i in range(len(videos))
    ]
    for video, wanted in zip(videos, per_video, strict=True):
        if not video.is_file():
            raise QuantizeError(f"calibration video not found: {video}")
        total = VideoFile(video).frame_count
        if not total:
            raise QuantizeError(f"{video}: no frames to calibrate on")
        taken = 0
        # Every step-th frame, read as the worker reads a stride (the others only grabbed).
        for _, frame in VideoFile(video, stride=max(1, total // wanted)):
            if taken == wanted:
                break
            taken += 1
            yield detector.network_input(frame)
        if not taken:
            raise QuantizeError(f"{video}: no frame could be read")


def _output_convolutions(model) -> list[str]:
    """The convolutions nearest the outputs: walking back from each output through the
    reshaping, activation and concatenation after them, the first Conv met on each path."""
    makers = {out: node for node in model.graph.node for out in node.output}
    found: list[str] = []
    seen: set[str] = set()
    stack = [output.name for output in model.graph.output]
    while stack:
        node = makers.get(stack.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        if node.op_type == "Conv":
            found.append(node.name)
        else:
            stack.extend(node.input)
    return found


def _opset(model) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
