"""A constant-velocity Kalman filter over many boxes at once, with time in seconds.

State per track: centre x, centre y, width, height and their rates per second. Working in seconds
rather than frames is what lets the tracker analyse every N-th frame, or frames that arrive
irregularly from a live stream, without retuning.
"""

from __future__ import annotations

import numpy as np

# Noise as fractions of the box height, as in ByteTrack/DeepSORT, but per second of elapsed time:
# a reference frame rate turns their per-frame figures into rates.
_REFERENCE_FPS = 25.0
_POSITION_STD = 1.0 / 20.0
_VELOCITY_STD = 1.0 / 160.0
_MEASURE = np.hstack((np.eye(4), np.zeros((4, 4))))


def _transition(dt: float) -> np.ndarray:
    transition = np.eye(8)
    transition[:4, 4:] = np.eye(4) * dt
    return transition


def _scale(heights: np.ndarray) -> np.ndarray:
    # Width is noisier than height for vehicles turning, so both use the height as the yardstick.
    return np.maximum(heights, 1.0)[:, None]


def initiate(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start tracks at measured cx, cy, w, h boxes (N, 4) with unknown velocity."""
    n = len(boxes)
    mean = np.hstack((boxes, np.zeros((n, 4))))
    h = _scale(boxes[:, 3])
    std = np.hstack(
        (
            np.repeat(2 * _POSITION_STD * h, 4, axis=1),
            np.repeat(10 * _VELOCITY_STD * _REFERENCE_FPS * h, 4, axis=1),
        )
    )
    cov = np.einsum("ni,ij->nij", std**2, np.eye(8))
    return mean, cov


def predict(mean: np.ndarray, cov: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Advance every track by dt seconds."""
    if len(mean) == 0 or dt <= 0:
        return mean, cov
    transition = _transition(dt)
    h = _scale(mean[:, 3])
    # A random walk: the variance added grows linearly with the time elapsed.
    frames = dt * _REFERENCE_FPS
    std = np.hstack(
        (
            np.repeat(_POSITION_STD * h, 4, axis=1),
            np.repeat(_VELOCITY_STD * _REFERENCE_FPS * h, 4, axis=1),
        )
    )
    noise = np.einsum("ni,ij->nij", std**2 * frames, np.eye(8))
    mean = mean @ transition.T
    cov = transition @ cov @ transition.T + noise
    return mean, cov


def update(mean: np.ndarray, cov: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correct tracks with their matched measurements (same length, row by row)."""
    if len(mean) == 0:
        return mean, cov
    h = _scale(mean[:, 3])
    measurement_noise = np.einsum(
        "ni,ij->nij", np.repeat((_POSITION_STD * h) ** 2, 4, axis=1), np.eye(4)
    )
    projected_cov = _MEASURE @ cov @ _MEASURE.T + measurement_noise
    cross = cov @ _MEASURE.T  # (N, 8, 4)
    gain = np.linalg.solve(projected_cov, cross.transpose(0, 2, 1)).transpose(0, 2, 1)
    innovation = boxes - mean[:, :4]
    mean = mean + np.einsum("nij,nj->ni", gain, innovation)
    cov = cov - gain @ projected_cov @ gain.transpose(0, 2, 1)
    return mean, cov
