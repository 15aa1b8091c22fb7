#!/usr/bin/env python
"""Measure each 17-frame chunk's horizontal pan in generated videos and compare it with the prompted speed.

    python tools/chunk_pan.py outputs/cmp/videos/pa --prompts outputs/cmp/prompts_text.txt
    python tools/chunk_pan.py outputs/cmp/videos/pa-ext --prompts outputs/cmp/prompts_extend.txt --skip-chunks 1

``tools/eval``'s ``shift_error`` averages the phase correlation of every frame pair of a clip, so a chunk seam
(one pair per chunk) counts as motion. This tool measures the pan inside each chunk only: the speed that best
aligns the chunk's column profiles (``estimate_pan_speed``, as ``PanChunkPCAVideoVAE`` encodes), px/frame, + =
content moving right. The videos are the folder's ``*.mp4`` in name order, matched line by line with the prompt
file (captions of the synthetic world, ``tools/synthetic/captions.py``; ``prompt||clip.mp4`` lines are read up to
the ``||``). ``--skip-chunks`` leaves out the first chunks (the given clip of an extension). Prints one line per
video and the mean |chunk pan - prompted pan|, first and last ``--drift-seconds`` included, and the share of
chunks panning in the prompted direction; ``--out FILE`` writes them as JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opensora.models.vae.pan_chunk_pca_vae import estimate_pan_speed  # noqa: E402
from opensora.utils.cli import run_cli  # noqa: E402
from opensora.utils.video_io import from_uint8, read_video  # noqa: E402
from tools.synthetic.captions import parse_caption  # noqa: E402


def chunk_pans(video: torch.Tensor, chunk: int = 17, max_speed: float = 4.0) -> list[float]:
    """Pan (px/frame) of every whole ``chunk``-frame piece of ``video`` (3, T, H, W) in [-1, 1]."""
    x = video[None].double()
    return [float(estimate_pan_speed(x[:, :, s:s + chunk], max_speed, 1 / 32)[0])
            for s in range(0, x.shape[2] - chunk + 1, chunk)]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("videos", type=Path, help="folder of generated .mp4 files")
    p.add_argument("--prompts", type=Path, required=True, help="prompt file, one line per video (name order)")
    p.add_argument("--skip-chunks", type=int, default=0, help="leave out the first N chunks of every video")
    p.add_argument("--fps", type=float, default=24.0)
    p.add_argument("--drift-seconds", type=float, default=10.0)
    p.add_argument("--out", type=Path, help="write the result as JSON here")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    a = parse_args(argv)
    paths = sorted(a.videos.glob("*.mp4"))
    prompts = [line.split("||")[0].strip() for line in a.prompts.read_text().splitlines() if line.strip()]
    if not paths:
        raise ValueError(f"no .mp4 files in {a.videos}")
    if len(prompts) < len(paths):
        raise ValueError(f"{a.prompts} has {len(prompts)} prompts for {len(paths)} videos in {a.videos}; "
                         "pass the prompt file the videos were generated from")
    if a.skip_chunks < 0:
        raise ValueError(f"--skip-chunks must be >= 0, got {a.skip_chunks}")
    edge = max(1, round(a.drift_seconds * a.fps / 17))
    videos, errors, first, last, right = [], [], [], [], []
    for path, prompt in zip(paths, prompts):
        truth = parse_caption(prompt).dx_px_per_frame
        pans = chunk_pans(from_uint8(read_video(path)))[a.skip_chunks:]
        if not pans:
            raise ValueError(f"{path} has no whole 17-frame chunk after --skip-chunks {a.skip_chunks}")
        err = [abs(p - truth) for p in pans]
        videos.append({"video": path.name, "prompted": truth, "mean_pan": sum(pans) / len(pans),
                       "mean_error": sum(err) / len(err), "chunks": len(pans)})
        errors += err
        first.append(sum(err[:edge]) / len(err[:edge]))
        last.append(sum(err[-edge:]) / len(err[-edge:]))
        right += [float(p * truth > 0) for p in pans]
        print(f"{path.name}: prompted {truth:+.2f}, chunk pan {videos[-1]['mean_pan']:+.3f} px/frame "
              f"(error {videos[-1]['mean_error']:.3f}, {len(pans)} chunks)")
    record = {"videos": videos, "mean_error": sum(errors) / len(errors),
              "mean_error_first": sum(first) / len(first), "mean_error_last": sum(last) / len(last),
              "direction_ok": sum(right) / len(right)}
    print(f"mean |chunk pan - prompt| {record['mean_error']:.3f} px/frame (first {a.drift_seconds:g} s "
          f"{record['mean_error_first']:.3f}, last {record['mean_error_last']:.3f}); "
          f"right direction in {100 * record['direction_ok']:.1f} % of the chunks")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(record, indent=1))
    return record


if __name__ == "__main__":
    sys.exit(run_cli(lambda argv: main(argv) and 0))
