"""Differential-privacy noise for open-data cells: the Laplace mechanism.

One crossing adds 1 to exactly one cell, so the table's L1 sensitivity is 1 and each cell gets
Laplace noise of scale 1/epsilon. Rounding and clipping at 0 are post-processing and keep the
guarantee; totals are then summed from the noisy cells, never from the true ones.

Each cell's noise is drawn from a generator keyed (HMAC with the deployment's secret key) by
the cell and its true count: exporting the same data again gives the same noise, so repeated
exports cannot be averaged to strip it, while a count that changed draws afresh rather than
revealing the exact change through a shared draw.
"""

from __future__ import annotations

import numpy as np
from django.utils.crypto import salted_hmac

SENSITIVITY = 1.0


def laplace_scale(epsilon: float) -> float:
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive, not {epsilon!r}")
    return SENSITIVITY / epsilon


def cell_rng(*key: object) -> np.random.Generator:
    """The noise generator of one cell, fixed by its key and unknowable without the secret."""
    digest = salted_hmac("junction.opendata.noise", "|".join(map(str, key))).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def noisy_count(count: int, *, epsilon: float, rng: np.random.Generator) -> int:
    """`count` plus Laplace(1/epsilon) noise, rounded and clipped at 0."""
    return max(0, int(np.rint(count + rng.laplace(0.0, laplace_scale(epsilon)))))
