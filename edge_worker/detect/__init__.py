"""Object detection: a detector has one method, `detect(frame) -> Detections`."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from edge_worker.detect.onnx import ModelError, OnnxDetector
from edge_worker.detect.settings import DetectorSettings
from edge_worker.detections import Detections


class Detector(Protocol):
    def detect(self, frame: np.ndarray) -> Detections: ...


__all__ = ["Detector", "DetectorSettings", "ModelError", "OnnxDetector"]
