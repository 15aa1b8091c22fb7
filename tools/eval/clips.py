"""Per-frame series of one video, and their per-clip summaries (VBench-long style: fixed-length clips).

Pair measurements are stored at the later frame: entry t describes the pair (t-1, t); entry 0 is NaN. A clip
[start, stop) uses only the pairs inside it (t in start+1 .. stop-1), so clips never straddle a boundary.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .frame_metrics import band_medians, color_histogram, cosine, laplacian_variance, phase_shift, to_gray

CLIP_METRICS = ("motion_px", "shift_dx", "shift_dy", "dynamic_degree", "frame_diff", "sharpness",
                "frame_consistency", "first_clip_consistency", "color_drift")


@dataclass
class FrameSeries:
    """Measurements of every frame of one video (T frames)."""

    shift: np.ndarray  # (T, 2) (dx, dy) px/frame of pair (t-1, t)
    frame_diff: np.ndarray  # (T,) mean |frame_t - frame_{t-1}| over pixels and channels, 0-255
    hist_similarity: np.ndarray  # (T,) cosine of the colour histograms of frames t-1 and t
    sharpness: np.ndarray  # (T,) variance of the Laplacian
    mean_color: np.ndarray  # (T, 3) mean RGB
    hist: np.ndarray  # (T, 512) colour histograms
    band_top: np.ndarray  # (T, 3) median RGB of the top band
    band_bottom: np.ndarray  # (T, 3) median RGB of the bottom band

    @property
    def num_frames(self) -> int:
        return len(self.sharpness)


def measure_frames(frames: Iterable[np.ndarray], band_fraction: float = 0.125) -> FrameSeries:
    """Stream over RGB uint8 frames (H, W, 3) once, keeping only the previous frame."""
    rows: dict[str, list] = {k: [] for k in FrameSeries.__dataclass_fields__}
    prev = None
    for frame in frames:
        gray, hist = to_gray(frame), color_histogram(frame)
        if prev is None:
            pair = ((np.nan, np.nan), np.nan, np.nan)
        else:
            diff = np.abs(frame.astype(np.int16) - prev[0].astype(np.int16)).mean()
            pair = (phase_shift(prev[1], gray), diff, cosine(prev[2], hist))
        top, bottom = band_medians(frame, band_fraction)
        for key, value in zip(rows, (*pair, laplacian_variance(gray), frame.reshape(-1, 3).mean(0), hist, top,
                                     bottom)):
            rows[key].append(value)
        prev = (frame, gray, hist)
    if prev is None:
        raise ValueError("the video has no frames to measure")
    return FrameSeries(**{k: np.asarray(v, dtype=np.float64) for k, v in rows.items()})


def clip_bounds(num_frames: int, clip_frames: int) -> list[tuple[int, int]]:
    """[start, stop) of consecutive clips; a remainder of at least half a clip is kept as a shorter last clip."""
    if clip_frames < 2:
        raise ValueError(f"clip_frames={clip_frames} must be >= 2 (a clip needs at least one frame pair)")
    bounds = [(s, s + clip_frames) for s in range(0, num_frames - clip_frames + 1, clip_frames)]
    rest = bounds[-1][1] if bounds else 0
    if num_frames - rest >= max(2, clip_frames // 2) or not bounds:
        bounds.append((rest, num_frames))
    return bounds


def clip_summary(series: FrameSeries, start: int, stop: int, motion_threshold: float) -> dict:
    """Metrics of frames [start, stop) that need no reference clip."""
    pairs = slice(start + 1, stop)
    motion = np.linalg.norm(series.shift[pairs], axis=1)
    return {"motion_px": _mean(motion), "shift_dx": _mean(series.shift[pairs, 0]),
            "shift_dy": _mean(series.shift[pairs, 1]), "dynamic_degree": _mean(motion > motion_threshold, motion),
            "frame_diff": _mean(series.frame_diff[pairs]), "sharpness": _mean(series.sharpness[start:stop]),
            "frame_consistency": _mean(series.hist_similarity[pairs])}


def clip_table(series: FrameSeries, clip_frames: int, fps: float, motion_threshold: float = 0.25) -> list[dict]:
    """One dict per clip: time span, CLIP_METRICS, and the clip's band colours (for the palette error).

    first_clip_consistency is the cosine of the clip's mean histogram and the first clip's; color_drift is the
    distance (0-255 RGB) from the clip's mean colour to the first clip's.
    """
    table, first = [], None
    for index, (start, stop) in enumerate(clip_bounds(series.num_frames, clip_frames)):
        hist, color = series.hist[start:stop].mean(0), series.mean_color[start:stop].mean(0)
        if first is None:
            first = (hist, color)
        row = {"clip": index, "start_frame": start, "stop_frame": stop, "t_start": start / fps,
               "t_end": stop / fps, **clip_summary(series, start, stop, motion_threshold),
               "first_clip_consistency": cosine(hist, first[0]),
               "color_drift": float(np.linalg.norm(color - first[1])),
               "band_top": np.median(series.band_top[start:stop], axis=0).tolist(),
               "band_bottom": np.median(series.band_bottom[start:stop], axis=0).tolist()}
        table.append(row)
    return table


def _mean(values: np.ndarray, reference: np.ndarray | None = None) -> float:
    """Mean that is NaN (not a warning) for an empty slice; ``reference`` masks NaN pairs of boolean tests."""
    values = np.asarray(values, dtype=np.float64)
    if reference is not None:
        values = values[~np.isnan(reference)]
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")
