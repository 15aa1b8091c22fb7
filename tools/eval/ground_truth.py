"""Ground truth of synthetic-world videos, and the per-clip errors against it.

A video ``DIR/name.mp4`` is scored against ``DIR/name.json`` (or ``GT_DIR/name.json`` with ``--gt-dir``):

- the sidecar written by ``tools.synthetic.generate`` (keys ``dx_px_per_frame``, ``dy_px_per_frame``,
  ``band_fraction``, ``band_colors``, ``width``), or
- any JSON with a ``caption`` (or ``prompt`` / ``text``) in the synthetic caption grammar, e.g. next to a
  generated video; the truth is then derived from the caption at the video's own size.

Shifts are rescaled by video width / sidecar width, so a video generated at another width is scored fairly.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools.synthetic import BAND_FRACTION, WorldSpec, band_colors, parse_caption

GT_METRICS = ("shift_error", "direction_ok", "palette_error")


@dataclass(frozen=True)
class GroundTruth:
    caption: str
    dx: float  # true content motion, px/frame at the video's width, + = rightwards
    dy: float
    band_fraction: float
    band_top: np.ndarray  # expected RGB of the top band (sky)
    band_bottom: np.ndarray  # expected RGB of the bottom band (near hills)


def sidecar_path(video: Path, gt_dir: Path | None) -> Path:
    return (Path(gt_dir) / f"{video.stem}.json") if gt_dir else video.with_suffix(".json")


def load_ground_truth(video, gt_dir=None, width: int = 96, height: int = 64) -> GroundTruth | None:
    """The truth for ``video`` from its sidecar, or None when there is no sidecar."""
    path = sidecar_path(Path(video), gt_dir)
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    if "dx_px_per_frame" in data:
        return _from_sidecar(data, width)
    text = _caption_text(data.get("caption") or data.get("prompt") or data.get("text"), path)
    if not text:
        raise ValueError(f"{path} has neither 'dx_px_per_frame' (a tools.synthetic sidecar) nor a 'caption'; "
                         f"write one of them, or run without ground truth (--no-gt)")
    return _from_caption(text, width, height)


def _caption_text(value, path: Path):
    """A caption string from a sidecar field: a string, or a scripts/inference.py timeline [[text, start_s], ...]
    with one segment (a multi-prompt timeline has no single truth)."""
    if value is None or isinstance(value, str):
        return value
    segments = [seg[0] if isinstance(seg, (list, tuple)) else seg for seg in value]
    if len(segments) != 1 or not isinstance(segments[0], str):
        raise ValueError(f"{path}: prompt timeline {value!r} has {len(segments)} segments; ground truth needs one "
                         f"caption -- evaluate multi-prompt videos with --no-gt")
    return segments[0]


def _from_sidecar(data: dict, width: int) -> GroundTruth:
    scale = width / float(data.get("width", width))
    bands = data["band_colors"]
    return GroundTruth(data["caption"], data["dx_px_per_frame"] * scale, data["dy_px_per_frame"] * scale,
                       data["band_fraction"], np.asarray(bands["top"], float), np.asarray(bands["bottom"], float))


def _from_caption(text: str, width: int, height: int) -> GroundTruth:
    caption = parse_caption(text)
    spec = WorldSpec(caption, seed=0, width=width, height=height)
    bands = band_colors(spec)
    return GroundTruth(caption.text, caption.dx_px_per_frame, 0.0, BAND_FRACTION, np.asarray(bands["top"]),
                       np.asarray(bands["bottom"]))


def clip_errors(row: dict, gt: GroundTruth) -> dict:
    """Errors of one clip row (from clips.clip_table) against the truth.

    shift_error    |(shift_dx, shift_dy) - (dx, dy)|, px/frame (direction included)
    direction_ok   1 if the measured horizontal motion has the true sign, else 0 (NaN for a static truth)
    palette_error  mean RGB distance (0-255) of the top / bottom band medians to the expected band colours
    """
    shift_error = math.hypot(row["shift_dx"] - gt.dx, row["shift_dy"] - gt.dy)
    direction_ok = float(np.sign(row["shift_dx"]) == np.sign(gt.dx)) if gt.dx != 0 else float("nan")
    palette_error = 0.5 * (np.linalg.norm(np.asarray(row["band_top"]) - gt.band_top)
                           + np.linalg.norm(np.asarray(row["band_bottom"]) - gt.band_bottom))
    return {"shift_error": shift_error, "direction_ok": direction_ok, "palette_error": float(palette_error)}
