"""Differential-privacy noise for open-data cells: the Laplace mechanism.

One crossing adds 1 to exactly one cell, so the table's L1 sensitivity is 1 and each cell gets
Laplace noise of scale 1/epsilon. Rounding and clipping at 0 are post-processing and keep the
guarantee; totals are then summed from the noisy cells, never from the true ones.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SENSITIVITY = 1.0


def laplace_scale(epsilon: float) -> float:
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive, not {epsilon!r}")
    return SENSITIVITY / epsilon


def noisy_counts(counts: npt.NDArray[np.int64], *, epsilon: float,
                 rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """`counts` with Laplace(1/epsilon) noise on each, rounded and clipped at 0."""
    noise = rng.laplace(0.0, laplace_scale(epsilon), size=counts.shape)
    return np.clip(np.rint(counts + noise), 0, None).astype(np.int64)
