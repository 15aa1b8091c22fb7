"""Deterministic, endless 1-D value noise (the terrain, cloud and texture profiles of the synthetic world)."""
from __future__ import annotations

import numpy as np


class ValueNoise1D:
    """Fractal value noise: random lattice values, smoothstep-interpolated (C1), ``octaves`` layers.

    ``noise(x)`` maps any float array ``x`` (lattice units) to values in [0, 1]. It is continuous in ``x``, so a
    sub-pixel camera shift gives a sub-pixel image shift. Periodic with ``cells`` lattice units (large enough
    that no video of the project wraps around). The lattice is drawn once from ``rng``.
    """

    def __init__(self, rng: np.random.Generator, octaves: int = 3, cells: int = 8192):
        self.tables = rng.random((octaves, cells))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        total, norm = 0.0, 0.0
        for k, table in enumerate(self.tables):
            amplitude = 0.5 ** k
            total = total + amplitude * _interpolate(table, np.asarray(x, dtype=np.float64) * 2 ** k)
            norm += amplitude
        return total / norm


def _interpolate(table: np.ndarray, x: np.ndarray) -> np.ndarray:
    cell = np.floor(x)
    frac = x - cell
    i = cell.astype(np.int64) % len(table)
    s = frac * frac * (3.0 - 2.0 * frac)  # smoothstep: continuous slope across lattice points
    return table[i] * (1.0 - s) + table[(i + 1) % len(table)] * s
