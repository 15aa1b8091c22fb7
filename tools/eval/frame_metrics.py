"""Per-frame and per-frame-pair measurements (numpy only).

Notation:

    frame   (H, W, 3) uint8 RGB
    gray    (H, W) float64 luma in 0-255 (BT.601 weights)
    shift   (dx, dy) px/frame: curr(x, y) ~= prev(x - dx, y - dy); + dx = content moves right, + dy = down
    hist    (512,) joint RGB histogram, 8 bins per channel, summing to 1
"""
from __future__ import annotations

import numpy as np

HIST_BINS = 8


def to_gray(frame: np.ndarray) -> np.ndarray:
    return frame[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])


# Highest spatial frequency (cycles/px, per axis) the shift estimate uses. Video decoded from 8 x 8-px latent
# cells (Open-Sora's VAE, the tiny model's PCA VAE) carries a grid of cell edges that stays put while the
# content pans; its harmonics (k/8 cycles/px) have zero phase shift, and phase correlation, which weighs every
# frequency alike, then reads a visibly panning video as still (the PCA VAE's reconstruction of a 0.5 px/frame
# pan read 0.00; below 1/8 it reads 0.43, the truth 0.49). Content motion lives at lower frequencies.
MAX_SHIFT_FREQUENCY = 1.0 / 8.0


def phase_shift(prev: np.ndarray, curr: np.ndarray, upsample: int = 20,
                max_frequency: float | None = MAX_SHIFT_FREQUENCY) -> tuple[float, float]:
    """Global translation (dx, dy) from gray frame ``prev`` to ``curr`` by phase correlation.

    1. Hann-window both mean-free frames and take the normalised cross-power spectrum R = Fc Fp* / |Fc Fp*|,
       keeping only frequencies below ``max_frequency`` cycles/px on both axes (None: all; see
       MAX_SHIFT_FREQUENCY for why the cell grid of decoded video must be left out).
    2. The integer peak of ifft(R) is the coarse shift (wrapped to [-N/2, N/2)).
    3. Refine to 1/upsample px by evaluating the inverse DFT of R on a fine grid within +-1 px of the peak
       (matrix-multiply DFT, Guizar-Sicairos style). Identical frames give exactly (0, 0).
    """
    window = np.outer(np.hanning(prev.shape[0]), np.hanning(prev.shape[1]))
    fp = np.fft.fft2((prev - prev.mean()) * window)
    fc = np.fft.fft2((curr - curr.mean()) * window)
    cross = fc * np.conj(fp)
    magnitude = np.abs(cross)
    if magnitude.max() < 1e-9:  # a flat frame: no structure to track, report no motion
        return 0.0, 0.0
    cross /= np.maximum(magnitude, 1e-6 * magnitude.max())
    if max_frequency is not None:
        fy, fx = np.fft.fftfreq(prev.shape[0])[:, None], np.fft.fftfreq(prev.shape[1])[None, :]
        cross *= (np.abs(fy) < max_frequency) & (np.abs(fx) < max_frequency)
    coarse = np.unravel_index(np.argmax(np.fft.ifft2(cross).real), cross.shape)
    peak = [(p + n // 2) % n - n // 2 for p, n in zip(coarse, cross.shape)]
    dy, dx = _refine_peak(cross, peak, upsample)
    return float(dx), float(dy)


def _refine_peak(cross: np.ndarray, peak, upsample: int) -> tuple[float, float]:
    """Argmax of sum_{v,u} R[v,u] exp(2 pi i (v sy / H + u sx / W)) over (sy, sx) within +-1 px of ``peak``."""
    offsets = np.arange(-upsample, upsample + 1) / upsample
    sy, sx = peak[0] + offsets, peak[1] + offsets
    ky = np.exp(2j * np.pi * np.outer(sy, np.fft.fftfreq(cross.shape[0])))
    kx = np.exp(2j * np.pi * np.outer(np.fft.fftfreq(cross.shape[1]), sx))
    # einsum, not @: these products are tiny and BLAS threads only add latency on a shared CPU
    fine = np.einsum("ij,jk->ik", np.einsum("ij,jk->ik", ky, cross), kx).real
    iy, ix = np.unravel_index(np.argmax(fine), fine.shape)
    return sy[iy], sx[ix]


def laplacian_variance(gray: np.ndarray) -> float:
    """Sharpness: variance of the 4-neighbour Laplacian (0-255 luma). Blurring lowers it."""
    lap = gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4.0 * gray[1:-1, 1:-1]
    return float(lap.var())


def color_histogram(frame: np.ndarray) -> np.ndarray:
    """(512,) joint RGB histogram, 8 bins per channel, normalised to sum 1."""
    q = (frame[..., :3] // (256 // HIST_BINS)).astype(np.int64).reshape(-1, 3)
    idx = (q[:, 0] * HIST_BINS + q[:, 1]) * HIST_BINS + q[:, 2]
    hist = np.bincount(idx, minlength=HIST_BINS ** 3).astype(np.float64)
    return hist / hist.sum()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity; 1.0 when both vectors are zero (identical empty inputs)."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 1.0 if na == nb else 0.0
    return float(np.dot(a, b) / (na * nb))


def band_medians(frame: np.ndarray, band_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel median colour of the top and bottom ``band_fraction`` of the rows (sky / ground)."""
    rows = max(1, int(round(frame.shape[0] * band_fraction)))
    top = np.median(frame[:rows].reshape(-1, 3), axis=0)
    bottom = np.median(frame[-rows:].reshape(-1, 3), axis=0)
    return top, bottom
