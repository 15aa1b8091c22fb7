#!/usr/bin/env python
"""Measure each 17-frame chunk's horizontal pan in generated videos and compare it with the prompted speed.

    python tools/chunk_pan.py outputs/cmp/videos/pa --prompts outputs/cmp/prompts_text.txt
    python tools/chunk_pan.py outputs/cmp/videos/pa-ext --prompts outputs/cmp/prompts_extend.txt --skip-chunks 1

``tools/eval``'s ``shift_error`` averages the phase correlation of every frame pair of a clip: the net motion,
the jumps where chunks meet included (as far as phase correlation reads them). This tool separates the two. It
measures the pan inside each chunk: the speed that best
aligns the chunk's column profiles (``estimate_pan_speed``, as ``PanChunkPCAVideoVAE`` encodes), px/frame, + =
content moving right. The videos are the folder's ``*.mp4`` in name order, matched line by line with the prompt
file (captions of the synthetic world, ``tools/synthetic/captions.py``; ``prompt||clip.mp4`` lines are read up to
the ``||``). ``--skip-chunks`` leaves out the first chunks (the given clip of an extension). Prints one line per
video and the mean |chunk pan - prompted pan|, first and last ``--drift-seconds`` included, the share of
chunks panning in the prompted direction, and the chunk-to-chunk **progress**: how far the scene moves from one
chunk's first frame to the next one's, per frame (``chunk_progress``). Both must match the prompt: a video whose
chunks pan at the prompted speed but jump back where they meet (each chunk replaying the same stretch of the world)
has a progress near 0. ``--out FILE`` writes them as JSON.
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


def chunk_progress(video: torch.Tensor, chunk: int = 17, max_speed: float = 4.0) -> list[float]:
    """How far the scene moves from each whole chunk's first frame to the next chunk's first frame, divided by
    ``chunk`` (px/frame; the same column-profile alignment over one lag of ``chunk`` frames). A video that pans
    inside every chunk but jumps back where chunks meet (a sawtooth) has chunk pans at the prompt's speed and a
    progress near 0. Shifts up to half the frame width are looked for."""
    x = video[None].double()
    reach = min(max_speed * chunk, x.shape[-1] / 2)  # shifts that keep at least half the frame overlapping
    starts = list(range(0, x.shape[2] - chunk, chunk))
    return [float(estimate_pan_speed(x[:, :, [s, s + chunk]], reach, 1 / 8)[0]) / chunk for s in starts]


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
    videos, errors, first, last, right, steps, steps_right = [], [], [], [], [], [], []
    for path, prompt in zip(paths, prompts):
        truth = parse_caption(prompt).dx_px_per_frame
        video = from_uint8(read_video(path))
        pans = chunk_pans(video)[a.skip_chunks:]
        if not pans:
            raise ValueError(f"{path} has no whole 17-frame chunk after --skip-chunks {a.skip_chunks}")
        progress = chunk_progress(video)[a.skip_chunks:]
        err = [abs(p - truth) for p in pans]
        step_err = [abs(p - truth) for p in progress]
        videos.append({"video": path.name, "prompted": truth, "mean_pan": sum(pans) / len(pans),
                       "mean_error": sum(err) / len(err), "chunks": len(pans),
                       "mean_progress": sum(progress) / max(len(progress), 1),
                       "progress_error": sum(step_err) / max(len(step_err), 1)})
        errors += err
        steps += step_err
        steps_right += [float(p * truth > 0) for p in progress]
        first.append(sum(err[:edge]) / len(err[:edge]))
        last.append(sum(err[-edge:]) / len(err[-edge:]))
        right += [float(p * truth > 0) for p in pans]
        print(f"{path.name}: prompted {truth:+.2f}, chunk pan {videos[-1]['mean_pan']:+.3f} px/frame "
              f"(error {videos[-1]['mean_error']:.3f}, {len(pans)} chunks), chunk-to-chunk progress "
              f"{videos[-1]['mean_progress']:+.3f} px/frame")
    record = {"videos": videos, "mean_error": sum(errors) / len(errors),
              "mean_error_first": sum(first) / len(first), "mean_error_last": sum(last) / len(last),
              "direction_ok": sum(right) / len(right),
              "progress_error": sum(steps) / max(len(steps), 1),
              "progress_direction_ok": sum(steps_right) / max(len(steps_right), 1)}
    print(f"mean |chunk pan - prompt| {record['mean_error']:.3f} px/frame (first {a.drift_seconds:g} s "
          f"{record['mean_error_first']:.3f}, last {record['mean_error_last']:.3f}); "
          f"right direction in {100 * record['direction_ok']:.1f} % of the chunks")
    print(f"mean |chunk-to-chunk progress - prompt| {record['progress_error']:.3f} px/frame; the scene advances "
          f"the prompted way between {100 * record['progress_direction_ok']:.1f} % of consecutive chunk starts")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(record, indent=1))
    return record


if __name__ == "__main__":
    sys.exit(run_cli(lambda argv: main(argv) and 0))
