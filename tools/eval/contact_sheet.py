"""Contact sheets: one PNG with a row of frames every few seconds per video, so a reader sees the videos.

    python -m tools.eval.contact_sheet samples/demo/sample_0000.mp4 --out docs/demo_contact_sheet.png
    python -m tools.eval.contact_sheet a.mp4 b.mp4 --label PA --label RN --every 5 --out sheet.png

Row r shows video r at t = 0, every, 2 every, ... seconds (and its last frame), scaled by ``--zoom`` with
nearest-neighbour pixels (the tiny model's 96 x 64 frames stay crisp); the row's label and each frame's time
are printed above it. Frames are decoded one at a time; only the picked ones are kept.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .video import iter_frames, video_header

LABEL_PX, GAP_PX = 14, 4


def pick_frames(path, every_s: float) -> list[tuple[float, np.ndarray]]:
    """(time in s, RGB frame) at 0, every_s, 2 every_s, ... and the last frame."""
    if every_s <= 0:
        raise ValueError(f"every={every_s} s must be > 0")
    fps, _, _ = video_header(path)
    step = max(1, round(every_s * fps))
    picked, last = [], None
    for index, frame in enumerate(iter_frames(path)):
        if index % step == 0:
            picked.append((index / fps, frame))
        last = (index, frame)
    if last is None:
        raise ValueError(f"{path} has no frames")
    if last[0] % step:
        picked.append((last[0] / fps, last[1]))
    return picked


def contact_sheet(videos: dict, out, every_s: float = 5.0, zoom: int = 2) -> Path:
    """Write ``out`` (PNG): one row per ``{label: video path}`` entry, frames every ``every_s`` seconds."""
    if not videos:
        raise ValueError("no videos for the contact sheet; give at least one")
    if zoom < 1:
        raise ValueError(f"zoom={zoom} must be >= 1")
    rows = {label: pick_frames(path, every_s) for label, path in videos.items()}
    h, w = next(iter(rows.values()))[0][1].shape[:2]
    fh, fw = h * zoom, w * zoom
    cols = max(len(r) for r in rows.values())
    sheet = Image.new("RGB", (cols * (fw + GAP_PX) + GAP_PX, len(rows) * (fh + 2 * LABEL_PX + GAP_PX) + GAP_PX),
                      "white")
    draw = ImageDraw.Draw(sheet)
    for r, (label, frames) in enumerate(rows.items()):
        top = GAP_PX + r * (fh + 2 * LABEL_PX + GAP_PX)
        draw.text((GAP_PX, top), str(label), fill="black")
        for c, (t, frame) in enumerate(frames):
            x = GAP_PX + c * (fw + GAP_PX)
            draw.text((x, top + LABEL_PX), f"{t:.1f} s", fill="dimgray")
            sheet.paste(Image.fromarray(frame).resize((fw, fh), Image.NEAREST), (x, top + 2 * LABEL_PX))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.eval.contact_sheet", description=__doc__.split("\n")[0])
    p.add_argument("videos", nargs="+", help="mp4 files, one row each")
    p.add_argument("--label", action="append", help="row label per video (default: the file name)")
    p.add_argument("--every", type=float, default=5.0, help="seconds between frames (default 5)")
    p.add_argument("--zoom", type=int, default=2, help="integer upscale of each frame (default 2)")
    p.add_argument("--out", required=True, help="output PNG")
    return p.parse_args(argv)


def main(argv=None) -> Path:
    a = parse_args(argv)
    labels = a.label or [Path(v).name for v in a.videos]
    if len(labels) != len(a.videos):
        raise ValueError(f"got {len(a.videos)} videos but {len(labels)} --label; give one per video or none")
    path = contact_sheet(dict(zip(labels, a.videos)), a.out, a.every, a.zoom)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    import sys

    from opensora.utils.cli import run_cli

    sys.exit(run_cli(main))
