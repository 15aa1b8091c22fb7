"""Long-video evaluation: per-clip metrics over time, scene count, ground-truth errors, CSV / JSON / plots.

    python -m tools.eval.evaluate --videos samples/pa --method pa --videos samples/loop --method loop --out eval/

Each ``--videos`` is a folder (its *.mp4), a glob or one file; the i-th ``--method`` names the i-th
``--videos`` (default: the folder name). Writes ``clips.csv`` (one row per clip), ``videos.csv`` (one row per
video), ``metrics.json`` (everything, plus per-method means) and ``plots/<metric>.png`` to ``--out``.

A video that cannot be evaluated (unreadable or corrupt mp4, a sidecar without one ground truth, e.g. a
multi-prompt timeline) is skipped with a warning naming it and the reason; the others are evaluated. Only
when no video can be evaluated is it an error.
"""
from __future__ import annotations

import argparse
import glob
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from opensora.utils.cli import run_cli
from tools.synthetic import BAND_FRACTION

from . import report
from .clips import CLIP_METRICS, clip_table, measure_frames
from .ground_truth import GT_METRICS, clip_errors, load_ground_truth
from .scenes import detect_cuts
from .seams import load_layout, seam_values
from .video import iter_frames, video_header

logger = logging.getLogger("tools.eval")
# what makes one video unusable (an unreadable file, an unusable sidecar): skipped, never fatal to the others
VIDEO_ERRORS = (ValueError, OSError)

@dataclass(frozen=True)
class EvalOptions:
    clip_seconds: float = 2.0  # VBench-long style clip length
    motion_threshold: float = 0.25  # px/frame above which a frame pair counts as dynamic
    scene_threshold: float = 3.0  # AdaptiveDetector adaptive_threshold
    min_scene_len: int = 15  # AdaptiveDetector min_scene_len (frames)
    scenes: bool = True  # count scenes (PySceneDetect)
    ground_truth: bool = True  # score against sidecar JSONs when present
    gt_dir: str | None = None  # where sidecars live (default: next to each video)


def evaluate_video(path, options: EvalOptions = EvalOptions()) -> dict:
    """All numbers for one video: per-clip rows (with errors when a sidecar exists), scene cuts, clip means."""
    path = Path(path)
    fps, width, height = video_header(path)
    gt = load_ground_truth(path, options.gt_dir, width, height) if options.ground_truth else None
    series = measure_frames(iter_frames(path), gt.band_fraction if gt else BAND_FRACTION)
    clips = clip_table(series, max(2, round(options.clip_seconds * fps)), fps, options.motion_threshold)
    layout = load_layout(path)
    for row in clips:
        row.update(seam_values(series.frame_diff, layout, row["start_frame"], row["stop_frame"]))
        row.update(clip_errors(row, gt) if gt else {})
    cuts = detect_cuts(path, options.scene_threshold, options.min_scene_len) if options.scenes else None
    names = list(CLIP_METRICS) + (list(GT_METRICS) if gt else [])
    # seams of the whole video from all its pairs (a clip holds few boundaries; the mean of clip ratios is noisier)
    summary = {**report.summarize(clips, names), **seam_values(series.frame_diff, layout)}
    return {"video": str(path), "fps": fps, "width": width, "height": height, "num_frames": series.num_frames,
            "caption": gt.caption if gt else None, "num_scenes": None if cuts is None else len(cuts) + 1,
            "scene_cuts": cuts, "seam_layout": vars(layout), "summary": summary, "clips": clips}


def collect_videos(spec: str) -> list[Path]:
    """A folder's *.mp4 files, a glob's matches, or one file; sorted. Raises if nothing matches."""
    p = Path(spec)
    paths = sorted(p.glob("*.mp4")) if p.is_dir() else [p] if p.is_file() else sorted(map(Path, glob.glob(spec)))
    if not paths:
        raise FileNotFoundError(f"--videos {spec!r} matches no video; give a folder of .mp4 files, a glob in "
                                f"quotes (e.g. 'out/*.mp4') or a file")
    return paths


def method_names(videos: list[str], methods: list[str] | None) -> list[str]:
    if not methods:
        return [Path(v).name if Path(v).is_dir() else Path(v).parent.name for v in videos]
    if len(methods) != len(videos):
        raise ValueError(f"got {len(videos)} --videos but {len(methods)} --method; give one --method per "
                         f"--videos, in the same order (or none to use folder names)")
    return methods


def run(videos: list[str], methods: list[str] | None, out, options: EvalOptions = EvalOptions(),
        progress: bool = True) -> dict:
    """Evaluate every method's videos and write clips.csv, videos.csv, metrics.json and plots/ to ``out``."""
    jobs = [(m, p) for m, spec in zip(method_names(videos, methods), videos) for p in collect_videos(spec)]
    results: dict[str, list[dict]] = {}
    failed = []
    for method, path in tqdm(jobs, desc="evaluate", disable=not progress):
        try:
            results.setdefault(method, []).append(evaluate_video(path, options))
        except VIDEO_ERRORS as exc:
            failed.append(path)
            logger.warning("skipping %s (%s): %s: %s", path, method, type(exc).__name__, exc)
    results = {m: v for m, v in results.items() if v}
    if not results:
        raise ValueError(f"none of the {len(jobs)} videos could be evaluated (see the warnings above), e.g. "
                         f"{failed[0]}; check the files, or pass --no-gt for videos without one caption")
    if failed:
        print(f"skipped {len(failed)} of {len(jobs)} videos that could not be evaluated: "
              f"{', '.join(str(f) for f in failed)}", file=sys.stderr)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = report.metric_names(results)
    report.write_clip_csv(results, out / "clips.csv", names)
    report.write_video_csv(results, out / "videos.csv", names)
    report.write_json(results, out / "metrics.json", names, asdict(options))
    report.plot_metrics(results, out / "plots", names)
    return results


def parse_args(argv=None) -> argparse.Namespace:
    d = EvalOptions()
    p = argparse.ArgumentParser(prog="python -m tools.eval.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--videos", action="append", required=True, help="folder, glob or file; repeat per method")
    p.add_argument("--method", action="append", help="name of the matching --videos (repeat)")
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--clip-seconds", type=float, default=d.clip_seconds)
    p.add_argument("--motion-threshold", type=float, default=d.motion_threshold)
    p.add_argument("--scene-threshold", type=float, default=d.scene_threshold)
    p.add_argument("--min-scene-len", type=int, default=d.min_scene_len)
    p.add_argument("--gt-dir", default=None, help="folder of <video stem>.json sidecars (default: next to videos)")
    p.add_argument("--no-gt", action="store_true", help="ignore ground-truth sidecars")
    p.add_argument("--no-scenes", action="store_true", help="skip PySceneDetect")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    a = parse_args(argv)
    options = EvalOptions(a.clip_seconds, a.motion_threshold, a.scene_threshold, a.min_scene_len,
                          scenes=not a.no_scenes, ground_truth=not a.no_gt, gt_dir=a.gt_dir)
    results = run(a.videos, a.method, a.out, options, progress=not a.no_progress)
    names = report.metric_names(results)
    for method, videos in results.items():
        s = report.method_summary(videos, names)
        print(f"{method}: " + ", ".join(f"{k}={v:.3g}" for k, v in s.items()))
    print(f"wrote {Path(a.out) / 'metrics.json'}, clips.csv, videos.csv, plots/")
    return results


if __name__ == "__main__":
    sys.exit(run_cli(main))
