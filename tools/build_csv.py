#!/usr/bin/env python
"""Build a training CSV (``path,text,num_frames,height,width,fps``) from a folder of videos.

Captions come from a sidecar ``<video stem>.txt`` next to each video, or from ``--captions FILE`` (a CSV
with ``path,text`` columns, paths relative to the video folder, or a JSON {relative path: caption}).
Unreadable videos are skipped with a warning and counted.

    python tools/build_csv.py data/videos --output data/train.csv [--captions caps.json] [--min-frames 119]
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from opensora.datasets import write_csv
from opensora.utils.cli import run_cli
from opensora.utils.video_io import VideoReadError, probe_video

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
COLUMNS = ("path", "text", "num_frames", "height", "width", "fps")
logger = logging.getLogger("build_csv")


def load_captions(path) -> dict[str, str]:
    if path is None:
        return {}
    path = Path(path)
    if path.suffix == ".json":
        return {str(k): str(v) for k, v in json.loads(path.read_text()).items()}
    with open(path, newline="", encoding="utf-8") as f:
        return {row["path"]: row["text"] for row in csv.DictReader(f)}


def find_videos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())


def caption_for(video: Path, folder: Path, captions: dict) -> str:
    rel = str(video.relative_to(folder))
    if rel in captions:
        return captions[rel]
    sidecar = video.with_suffix(".txt")
    return sidecar.read_text(encoding="utf-8").strip() if sidecar.is_file() else ""


def build_rows(folder: Path, out_dir: Path, args) -> tuple[list[dict], int]:
    captions, rows, bad = load_captions(args.captions), [], 0
    for video in tqdm(find_videos(folder), desc="probing videos", disable=args.no_progress):
        try:
            info = probe_video(video, exact=args.exact_frames)
        except VideoReadError as exc:
            bad += 1
            logger.warning("skipping unreadable %s: %s", video, exc)
            continue
        if info.num_frames < args.min_frames:
            bad += 1
            logger.warning("skipping %s: %d frames < --min-frames %d", video, info.num_frames, args.min_frames)
            continue
        path = video.resolve() if not args.relative else Path(video.resolve()).relative_to(out_dir.resolve())
        rows.append(dict(path=str(path), text=caption_for(video, folder, captions), num_frames=info.num_frames,
                         height=info.height, width=info.width, fps=round(info.fps, 3)))
    return rows, bad


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path, help="folder searched recursively for videos")
    p.add_argument("--output", type=Path, required=True, help="CSV to write")
    p.add_argument("--captions", type=Path, default=None, help="CSV (path,text) or JSON {path: text}")
    p.add_argument("--min-frames", type=int, default=1, help="drop videos with fewer frames")
    p.add_argument("--exact-frames", action="store_true", help="count frames by decoding (slow, exact)")
    p.add_argument("--relative", action="store_true", help="write paths relative to the CSV's folder")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] %(message)s")
    args = parse_args(argv)
    if not args.folder.is_dir():
        raise FileNotFoundError(f"{args.folder} is not a folder of videos; pass the folder that holds them")
    rows, bad = build_rows(args.folder, args.output.parent, args)
    if not rows:
        raise ValueError(f"no usable videos under {args.folder} ({bad} skipped); extensions: {VIDEO_EXTENSIONS}")
    write_csv(args.output, rows, COLUMNS)
    uncaptioned = sum(1 for r in rows if not r["text"])
    logger.info("wrote %s: %d videos, %d skipped, %d without a caption", args.output, len(rows), bad, uncaptioned)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
