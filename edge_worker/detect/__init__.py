"""Object detection: a detector has one method, `detect(frame) -> Detections`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from edge_worker.detect.settings import DetectorSettings
from edge_worker.detections import Detections

if TYPE_CHECKING:
    from edge_worker.detect.onnx import ModelError, OnnxDetector


class Detector(Protocol):
    def detect(self, frame: np.ndarray) -> Detections: ...


def __getattr__(name: str) -> object:
    # ONNX Runtime takes a while to import; the site-config schema and commands that never
    # detect anything (validate-config, --help) only need the settings.
    if name in ("ModelError", "OnnxDetector"):
        from edge_worker.detect import onnx

        return getattr(onnx, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Detector", "DetectorSettings", "ModelError", "OnnxDetector"]
