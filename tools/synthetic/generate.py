"""Write a synthetic long-video dataset: mp4s, the Open-Sora CSV, and one ground-truth JSON per video.

    python -m tools.synthetic.generate --out data/synthetic --split train --num-videos 72 --seconds 10 --seed 0

Output in ``--out``: ``{split}_{i:05d}.mp4`` (libx264 yuv420p), ``{split}_{i:05d}.json`` (ground truth: caption
fields, signed pan speed, palette colours, seed, size) and ``{split}.csv`` with the Open-Sora header
``path,text,num_frames,height,width,fps`` (absolute paths). Video i of a split depends only on (seed, split, i),
so a longer run starts with the videos of a shorter one.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .captions import SPLITS, split_captions
from .mp4 import write_mp4
from .world import BAND_FRACTION, World, WorldSpec, band_colors
from .palettes import PALETTES

CSV_HEADER = ("path", "text", "num_frames", "height", "width", "fps")


@dataclass(frozen=True)
class VideoJob:
    name: str
    spec: WorldSpec
    num_frames: int


def plan_videos(split: str, num_videos: int, seconds: float, seed: int, width: int = 96, height: int = 64,
                fps: int = 24) -> list[VideoJob]:
    """The videos of a run: video i gets caption block[i % n] of a seeded permutation and its own world seed."""
    captions = split_captions(split)
    num_frames = int(round(seconds * fps))
    if num_videos < 1 or num_frames < 1:
        raise ValueError(f"need num_videos >= 1 and seconds * fps >= 1, got {num_videos} videos of {num_frames} "
                         f"frames ({seconds} s at {fps} fps)")
    key = [seed, SPLITS.index(split)]
    jobs = []
    for i in range(num_videos):
        block, pos = divmod(i, len(captions))
        caption = captions[np.random.default_rng(key + [block]).permutation(len(captions))[pos]]
        world_seed = int(np.random.SeedSequence(key + [i]).generate_state(1)[0])
        spec = WorldSpec(caption, world_seed, width=width, height=height, fps=fps)
        jobs.append(VideoJob(f"{split}_{i:05d}", spec, num_frames))
    return jobs


def ground_truth(job: VideoJob) -> dict:
    """The JSON sidecar of one video (what tools.eval reads to score a video against the truth)."""
    c, spec = job.spec.caption, job.spec
    return {"caption": c.text, "split": c.split,
            "fields": {"direction": c.direction, "speed": c.speed, "palette": c.palette, "objects": c.objects},
            "speed_px_per_frame": c.speed_px_per_frame, "dx_px_per_frame": c.dx_px_per_frame,
            "dy_px_per_frame": 0.0, "palette_colors": PALETTES[c.palette].colors(),
            "band_fraction": BAND_FRACTION, "band_colors": band_colors(spec), "seed": spec.seed,
            "num_frames": job.num_frames, "fps": spec.fps, "height": spec.height, "width": spec.width}


def write_video(job: VideoJob, out_dir: Path, crf: int = 18) -> dict:
    """Render and encode one video plus its sidecar; returns its CSV row."""
    path = (out_dir / f"{job.name}.mp4").resolve()
    written = write_mp4(path, World(job.spec).frames(job.num_frames), fps=job.spec.fps, crf=crf)
    (out_dir / f"{job.name}.json").write_text(json.dumps(ground_truth(job), indent=1))
    return {"path": str(path), "text": job.spec.caption.text, "num_frames": written,
            "height": job.spec.height, "width": job.spec.width, "fps": job.spec.fps}


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_HEADER)
        writer.writeheader()
        writer.writerows(rows)


def generate(out, split: str = "train", num_videos: int | None = None, seconds: float = 10.0, seed: int = 0,
             width: int = 96, height: int = 64, fps: int = 24, crf: int = 18, progress: bool = True) -> Path:
    """Write a split to ``out``; returns the CSV path. ``num_videos=None`` gives one video per caption."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    count = len(split_captions(split)) if num_videos is None else num_videos
    jobs = plan_videos(split, count, seconds, seed, width, height, fps)
    rows = [write_video(job, out, crf) for job in tqdm(jobs, desc=f"synthetic {split}", disable=not progress)]
    csv_path = out / f"{split}.csv"
    write_csv(rows, csv_path)
    return csv_path


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.synthetic.generate", description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--split", choices=SPLITS, default="train", help="prompt split (held-out = unseen pairs)")
    p.add_argument("--num-videos", type=int, default=None, help="default: one per caption of the split")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each video")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, default=96, help="even")
    p.add_argument("--height", type=int, default=64, help="even")
    p.add_argument("--fps", type=int, default=24)
    p.add_argument("--crf", type=int, default=18, help="libx264 quality (lower = better, 0 = lossless luma)")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> Path:
    a = parse_args(argv)
    csv_path = generate(a.out, a.split, a.num_videos, a.seconds, a.seed, a.width, a.height, a.fps, a.crf,
                        progress=not a.no_progress)
    print(f"wrote {csv_path}")
    return csv_path


if __name__ == "__main__":
    from opensora.utils.cli import run_cli

    sys.exit(run_cli(main))
