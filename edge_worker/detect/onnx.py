"""The ONNX Runtime detector: frame in, Detections of the collected classes out."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from edge_worker.detect.decode import STRIDES, Decoder, decoder_for, grid_cells, yolox_decoder
from edge_worker.detect.free_size import with_free_dimensions
from edge_worker.detect.settings import DetectorSettings
from edge_worker.detections import CLASS_NAMES, Detections

log = logging.getLogger(__name__)

COLLECTED = np.array(sorted(CLASS_NAMES), dtype=np.int64)
# NMS runs per group: a car also scored as truck must collapse into one box (the tracker's vote
# settles the class later), but a cyclist is both a person and a bicycle and keeps both boxes.
NMS_GROUP = {0: 0, 1: 1, 2: 2, 3: 2, 5: 2, 7: 2}
_PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}
PAD_VALUE = 114


class ModelError(RuntimeError):
    """The model file is missing, unreadable, or not a detector this worker understands."""


class OnnxDetector:
    """A YOLO-family detector on ONNX Runtime; `detect(frame)` is its one verb."""

    def __init__(self, model_path: str | Path, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()
        model_path = Path(model_path)
        self._providers = _providers(self.settings.provider)
        self._session = _open_session(model_path, self.settings, self._providers)
        model_input = self._session.get_inputs()[0]
        self._input_name = model_input.name
        _, _, self.input_height, self.input_width = model_input.shape
        if not all(isinstance(v, int) for v in (self.input_height, self.input_width)):
            raise ModelError(f"{model_path}: the model needs a fixed input size")
        output = self._session.get_outputs()[0]
        try:
            self.layout, decode = decoder_for(
                tuple(output.shape), self.input_height, self.input_width
            )
        except ValueError as exc:
            raise ModelError(f"{model_path}: {exc}") from exc
        self._decoders = {(self.input_height, self.input_width): decode}
        self._blobs: dict[tuple[int, int], np.ndarray] = {}
        # YOLOX was trained on raw BGR 0-255; Ultralytics exports expect RGB scaled to 0-1.
        self._ultralytics = self.layout != "yolox"
        # Only YOLOX decodes its grid outside the network; the Ultralytics exports bake the
        # anchors of their export size into the graph, so they keep their square input.
        self.free_size = self.settings.letterbox == "tight" and self._free_the_size(
            model_path, output.name
        )
        # The first runs allocate memory and pick kernels; do it now, not on the first vehicle.
        blank = np.full((self.input_height, self.input_width, 3), PAD_VALUE, np.uint8)
        for _ in range(2):
            self.detect(blank)

    def detect(self, frame: np.ndarray) -> Detections:
        x0, y0, view = self._region(frame)
        blob, scale = self._letterbox(view)
        raw = self._session.run(None, {self._input_name: blob})[0][0]
        cxcywh, class_scores = self._decoder(blob.shape[2:])(raw, self.settings.score_threshold)
        class_scores = class_scores[:, COLLECTED]
        best = class_scores.argmax(axis=1)
        scores = class_scores[np.arange(len(best)), best]
        keep = scores >= self.settings.score_threshold
        if not keep.any():
            return Detections.empty()
        cxcywh, scores, class_ids = cxcywh[keep], scores[keep], COLLECTED[best[keep]]
        xywh = cxcywh.copy()
        xywh[:, :2] -= cxcywh[:, 2:] / 2
        xywh /= scale
        kept = self._nms(xywh, scores, class_ids)
        xywh, scores, class_ids = xywh[kept], scores[kept], class_ids[kept]
        xyxy = np.concatenate((xywh[:, :2], xywh[:, :2] + xywh[:, 2:]), axis=1)
        xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]] + x0, x0, x0 + view.shape[1])
        xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]] + y0, y0, y0 + view.shape[0])
        return Detections(xyxy, scores, class_ids)

    @property
    def input_name(self) -> str:
        return self._input_name

    def network_input(self, frame: np.ndarray) -> np.ndarray:
        """The tensor `detect` feeds the network for this frame (a copy): what a calibration of
        the model must see, so that it is calibrated on exactly the inputs it will get."""
        return self._letterbox(self._region(frame)[2])[0].copy()

    def _region(self, frame: np.ndarray) -> tuple[int, int, np.ndarray]:
        if self.settings.roi is None:
            return 0, 0, frame
        x1, y1, x2, y2 = self.settings.roi
        return x1, y1, frame[y1:y2, x1:x2]

    def _letterbox(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """Resize keeping the aspect ratio into the top-left corner of a padded input.

        With a free input size the padding stops at the next multiple of the network's largest
        stride, so a wide camera is not padded out to a square: same pixels, less to compute.
        The returned blob is reused by the next call.
        """
        height, width = image.shape[:2]
        scale = min(self.input_height / height, self.input_width / width)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        blob = self._blob(new_h, new_w)
        if self._ultralytics:
            blob[0, :, :new_h, :new_w] = resized[:, :, ::-1].transpose(2, 0, 1)
            blob[0, :, :new_h, :new_w] /= 255.0
        else:
            blob[0, :, :new_h, :new_w] = resized.transpose(2, 0, 1)
        return blob, scale

    def _blob(self, height: int, width: int) -> np.ndarray:
        """The network input for a resized image of this size, padding already in place."""
        blob = self._blobs.get((height, width))
        if blob is None:
            size = self._input_size(height, width)
            pad = PAD_VALUE / 255.0 if self._ultralytics else float(PAD_VALUE)
            blob = self._blobs[(height, width)] = np.full((1, 3, *size), pad, np.float32)
        return blob

    def _input_size(self, height: int, width: int) -> tuple[int, int]:
        if not self.free_size:
            return self.input_height, self.input_width
        step = max(STRIDES)
        return (
            min(self.input_height, -(-height // step) * step),
            min(self.input_width, -(-width // step) * step),
        )

    def _decoder(self, size: tuple[int, int]) -> Decoder:
        # Other sizes than the model's own occur only with a free size, hence only for YOLOX.
        decode = self._decoders.get(size)
        if decode is None:
            decode = self._decoders[size] = yolox_decoder(*size)
        return decode

    def _free_the_size(self, model_path: Path, output_name: str) -> bool:
        """Reopen the session with a free input size if the network really runs at other sizes."""
        try:
            if self.layout != "yolox":
                raise ValueError(f"a {self.layout} export has its grid built in")
            free = with_free_dimensions(
                model_path.read_bytes(),
                self._input_name,
                {2: "height", 3: "width"},
                output_name,
                {1: "cells"},
            )
            session = _session(free, self.settings, self._providers)
            # A stripe as wide as the input but only a few strides high must give its cells.
            height = max(STRIDES) * 2
            probe = np.full((1, 3, height, self.input_width), PAD_VALUE, np.float32)
            rows = session.run(None, {self._input_name: probe})[0].shape[1]
            if rows != grid_cells(height, self.input_width):
                raise ValueError(f"{rows} output rows for a {self.input_width}x{height} input")
        except Exception as exc:  # onnxruntime raises several unrelated types
            log.warning(
                "tight letterbox unavailable, the model runs at its fixed %dx%d input only: %s",
                self.input_width,
                self.input_height,
                str(exc).splitlines()[0],
            )
            return False
        self._session = session
        return True

    def _nms(self, xywh: np.ndarray, scores: np.ndarray, class_ids: np.ndarray) -> np.ndarray:
        # Shifting each group far apart makes one class-agnostic NMS call act per group.
        groups = np.vectorize(NMS_GROUP.get)(class_ids).astype(np.float32)
        shifted = xywh.copy()
        shifted[:, 0] += groups * 100_000.0
        kept = cv2.dnn.NMSBoxes(
            shifted.tolist(), scores.tolist(), self.settings.score_threshold, self.settings.nms_iou
        )
        return np.asarray(kept, dtype=np.int64).reshape(-1)


def _open_session(
    model_path: Path, settings: DetectorSettings, providers: list[str]
) -> ort.InferenceSession:
    if not model_path.is_file():
        raise ModelError(f"model file not found: {model_path}")
    try:
        return _session(str(model_path), settings, providers)
    except Exception as exc:  # onnxruntime raises several unrelated types for a bad file
        raise ModelError(f"cannot load model {model_path}: {str(exc).splitlines()[0]}") from exc


def _session(
    model: str | bytes, settings: DetectorSettings, providers: list[str]
) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = settings.intra_op_threads
    options.inter_op_num_threads = settings.inter_op_threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model, sess_options=options, providers=providers)


def _providers(provider: str) -> list[str]:
    wanted = _PROVIDERS[provider]
    available = ort.get_available_providers()
    if wanted not in available:
        # Falling back is right for a camera that must keep counting, but never silently.
        log.warning("%s is not available (have %s); using the CPU", wanted, ", ".join(available))
        wanted = _PROVIDERS["cpu"]
    return [wanted] if wanted == _PROVIDERS["cpu"] else [wanted, _PROVIDERS["cpu"]]
