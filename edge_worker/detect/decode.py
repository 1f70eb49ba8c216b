"""Decoders that turn a YOLO-family output tensor into boxes in network-input pixels.

The layout is recognised from the output shape alone, so a site can swap in another export
without a setting: YOLOX (raw grid cells, objectness), YOLOv5 (three anchors per cell, already in
pixels, objectness) and YOLOv8 (channels first, no objectness).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

STRIDES = (8, 16, 32)


class Decoder(Protocol):
    def __call__(self, raw: np.ndarray, min_score: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """(boxes as cx, cy, w, h in input pixels, per-class scores for all classes).

        With `min_score`, only the rows whose best class could reach it: most of the grid is
        background, and skipping it before the arithmetic is most of the decoding time.
        """
        ...


def _hopeful(best_possible: np.ndarray, min_score: float) -> np.ndarray | slice:
    return np.flatnonzero(best_possible >= min_score) if min_score > 0 else slice(None)


def grid_cells(height: int, width: int) -> int:
    """Output rows of a YOLO-family network (one per grid cell) for an input of this size."""
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

    def decode(raw: np.ndarray, min_score: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        # A score is objectness times a class probability, so never above the objectness.
        rows = _hopeful(raw[:, 4], min_score)
        raw, cell_stride = raw[rows], stride[rows]
        xy = (raw[:, :2] + grid[rows]) * cell_stride
        wh = np.exp(np.clip(raw[:, 2:4], -10.0, 10.0)) * cell_stride
        return np.concatenate((xy, wh), axis=1), raw[:, 4:5] * raw[:, 5:]

    return decode


def _yolov5_decode(raw: np.ndarray, min_score: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    raw = raw[_hopeful(raw[:, 4], min_score)]
    return raw[:, :4], raw[:, 4:5] * raw[:, 5:]


def _yolov8_decode(raw: np.ndarray, min_score: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    raw = raw.T  # exported channels first: (4 + classes, cells)
    raw = raw[_hopeful(raw[:, 4:].max(axis=1), min_score)] if min_score > 0 else raw
    return raw[:, :4], raw[:, 4:]


def decoder_for(output_shape: tuple[int, ...], height: int, width: int) -> tuple[str, Decoder]:
    """Pick the decoder for an output of shape (1, rows, cols); raise ValueError if unknown."""
    if len(output_shape) != 3 or output_shape[0] != 1:
        raise ValueError(f"unsupported detector output shape {output_shape}")
    _, rows, cols = output_shape
    cells = grid_cells(height, width)
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
