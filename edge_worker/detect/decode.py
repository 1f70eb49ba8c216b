"""Decoders that turn a YOLO-family output tensor into boxes in network-input pixels.

The layout is recognised from the output shape alone, so a site can swap in another export
without a setting: YOLOX (raw grid cells, objectness), YOLOv5 (three anchors per cell, already in
pixels, objectness) and YOLOv8 (channels first, no objectness).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

STRIDES = (8, 16, 32)

# Returns (boxes as cx, cy, w, h in input pixels, per-class scores for all classes).
Decoder = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _cells(height: int, width: int) -> int:
    return sum((height // s) * (width // s) for s in STRIDES)


def _yolox_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    grids, strides = [], []
    for stride in STRIDES:
        gh, gw = height // stride, width // stride
        xs, ys = np.meshgrid(np.arange(gw), np.arange(gh))
        grids.append(np.stack((xs, ys), axis=-1).reshape(-1, 2))
        strides.append(np.full((gh * gw, 1), stride))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)


def yolox_decoder(height: int, width: int) -> Decoder:
    grid, stride = _yolox_grid(height, width)

    def decode(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xy = (raw[:, :2] + grid) * stride
        wh = np.exp(np.clip(raw[:, 2:4], -10.0, 10.0)) * stride
        return np.concatenate((xy, wh), axis=1), raw[:, 4:5] * raw[:, 5:]

    return decode


def _yolov5_decode(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return raw[:, :4], raw[:, 4:5] * raw[:, 5:]


def _yolov8_decode(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    raw = raw.T  # exported channels first: (4 + classes, cells)
    return raw[:, :4], raw[:, 4:]


def decoder_for(output_shape: tuple[int, ...], height: int, width: int) -> tuple[str, Decoder]:
    """Pick the decoder for an output of shape (1, rows, cols); raise ValueError if unknown."""
    if len(output_shape) != 3 or output_shape[0] != 1:
        raise ValueError(f"unsupported detector output shape {output_shape}")
    _, rows, cols = output_shape
    cells = _cells(height, width)
    if rows == cells and cols > 5:
        return "yolox", yolox_decoder(height, width)
    if rows == 3 * cells and cols > 5:
        return "yolov5", _yolov5_decode
    if cols == cells and rows > 4:
        return "yolov8", _yolov8_decode
    raise ValueError(
        f"detector output shape {output_shape} matches no known YOLO layout for a "
        f"{width}x{height} input"
    )
