"""Writing evaluation results: per-clip CSV, per-video CSV, one JSON with everything, and plots over time.

``results`` everywhere is ``{method: [video_result, ...]}`` with video results from ``evaluate.evaluate_video``.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from .clips import CLIP_METRICS
from .ground_truth import GT_METRICS
from .seams import SEAM_METRICS

LABELS = {
    "motion_px": "motion magnitude (px/frame)", "shift_dx": "horizontal shift (px/frame, + = right)",
    "shift_dy": "vertical shift (px/frame, + = down)", "dynamic_degree": "dynamic degree (fraction of pairs)",
    "frame_diff": "mean abs frame difference (0-255)", "sharpness": "sharpness (variance of Laplacian)",
    "frame_consistency": "frame-to-frame consistency (hist. cosine)",
    "first_clip_consistency": "consistency with the first clip (hist. cosine)",
    "color_drift": "colour drift from the first clip (RGB distance)",
    "shift_error": "pan error vs truth (px/frame)", "direction_ok": "pan direction correct (fraction)",
    "palette_error": "palette error vs truth (RGB distance)",
    "seam_diff": "frame difference at latent boundaries (0-255)",
    "seam_ratio": "latent-boundary / in-latent frame difference",
    "chunk_seam_diff": "frame difference at chunk boundaries (0-255)",
    "chunk_seam_ratio": "chunk-boundary / in-latent frame difference",
    "clip_seam_diff": "frame difference at clip boundaries (0-255)",
    "clip_seam_ratio": "clip-boundary / in-latent frame difference",
}


def metric_names(results: dict) -> list[str]:
    """CLIP_METRICS and SEAM_METRICS, plus the ground-truth errors when any video has them."""
    has_gt = any(GT_METRICS[0] in clip for videos in results.values() for v in videos for clip in v["clips"])
    return list(CLIP_METRICS) + list(SEAM_METRICS) + (list(GT_METRICS) if has_gt else [])


def summarize(rows: list[dict], names: list[str]) -> dict:
    """NaN-aware mean of each metric over ``rows`` (clips of a video, or video summaries of a method)."""
    out = {}
    for name in names:
        values = np.array([r.get(name, np.nan) for r in rows], dtype=np.float64)
        values = values[~np.isnan(values)]
        out[name] = float(values.mean()) if len(values) else float("nan")
    return out


def method_summary(videos: list[dict], names: list[str]) -> dict:
    summary = summarize([v["summary"] for v in videos], names)
    scenes = [v["num_scenes"] for v in videos if v.get("num_scenes") is not None]
    summary["num_scenes"] = float(np.mean(scenes)) if scenes else float("nan")
    summary["num_videos"] = len(videos)
    return summary


def write_clip_csv(results: dict, path: Path, names: list[str]) -> None:
    header = ["method", "video", "clip", "t_start", "t_end", *names]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        for method, videos in results.items():
            for v in videos:
                writer.writerows({"method": method, "video": v["video"], **c} for c in v["clips"])


def write_video_csv(results: dict, path: Path, names: list[str]) -> None:
    header = ["method", "video", "num_frames", "fps", "num_scenes", "scene_cuts", *names]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        for method, videos in results.items():
            for v in videos:
                cuts = " ".join(map(str, v["scene_cuts"])) if v["scene_cuts"] is not None else ""
                writer.writerow({"method": method, "video": v["video"], "num_frames": v["num_frames"],
                                 "fps": v["fps"], "num_scenes": v["num_scenes"], "scene_cuts": cuts,
                                 **{n: v["summary"].get(n) for n in names}})


def write_json(results: dict, path: Path, names: list[str], options: dict) -> None:
    doc = {"options": options, "metrics": {n: LABELS[n] for n in names},
           "methods": {m: {"summary": method_summary(vs, names), "videos": vs} for m, vs in results.items()}}
    path.write_text(json.dumps(_json_safe(doc), indent=1))


def _json_safe(value):
    """NaN -> null (strict JSON), numpy scalars -> Python numbers, paths -> str."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return str(value) if isinstance(value, Path) else value


def plot_metrics(results: dict, out_dir: Path, names: list[str]) -> list[Path]:
    """One PNG per metric: value over time (clip centres), one line per method (mean over its videos; the
    shaded band spans the min..max over videos)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        for method, videos in results.items():
            _plot_method(ax, method, videos, name)
        ax.set(xlabel="time (s)", ylabel=LABELS[name], title=name)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        else:  # no method has a value (e.g. clip seams of runs without clip boundaries)
            ax.text(0.5, 0.5, "no values", transform=ax.transAxes, ha="center", va="center", color="grey")
        fig.tight_layout()
        paths.append(out_dir / f"{name}.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    return paths


def _plot_method(ax, method: str, videos: list[dict], name: str) -> None:
    longest = max(videos, key=lambda v: len(v["clips"]))["clips"]
    times = np.array([(c["t_start"] + c["t_end"]) / 2 for c in longest])
    values = np.full((len(videos), len(longest)), np.nan)
    for i, v in enumerate(videos):
        for j, clip in enumerate(v["clips"]):
            values[i, j] = clip.get(name, np.nan)
    valid = ~np.all(np.isnan(values), axis=0)
    if not valid.any():
        return
    vals, t = values[:, valid], times[valid]
    (line,) = ax.plot(t, np.nanmean(vals, axis=0), marker="o", markersize=3, label=method)
    if len(videos) > 1:
        ax.fill_between(t, np.nanmin(vals, axis=0), np.nanmax(vals, axis=0), color=line.get_color(), alpha=0.2)
