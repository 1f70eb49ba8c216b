"""Detector settings: which execution provider, how many threads, thresholds, region of interest.

A pydantic model that rejects unknown keys, so the site-config schema can embed it as is.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DetectorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Literal["cpu", "cuda", "openvino"] = "cpu"
    # Set explicitly: onnxruntime's default uses every core, which starves decode and the other
    # camera processes on a small edge box.
    intra_op_threads: int = Field(default=1, ge=1, le=64)
    inter_op_threads: int = Field(default=1, ge=1, le=64)
    # Low on purpose: the tracker's second association stage needs the weak detections.
    score_threshold: float = Field(default=0.1, ge=0.0, le=1.0)
    nms_iou: float = Field(default=0.5, gt=0.0, le=1.0)
    # x1, y1, x2, y2 in frame pixels: only this crop is fed to the network, so distant objects
    # in it are seen at a higher resolution. Boxes come back in full-frame coordinates.
    roi: tuple[int, int, int, int] | None = None
    # "tight" pads a wide frame only up to the next multiple of 32 instead of to the model's
    # square (416x256 rather than 416x416 for a 16:9 camera): about 40% less inference. The
    # detections differ slightly near the bottom edge, so counts must be re-checked on the
    # site's footage before switching (`bench/edge.py --letterbox tight`). YOLOX exports only.
    letterbox: Literal["square", "tight"] = "square"

    @model_validator(mode="after")
    def _roi_not_empty(self) -> DetectorSettings:
        if self.roi is not None:
            x1, y1, x2, y2 = self.roi
            if x1 < 0 or y1 < 0 or x2 <= x1 or y2 <= y1:
                raise ValueError("roi must be x1, y1, x2, y2 with x2 > x1 >= 0 and y2 > y1 >= 0")
        return self
