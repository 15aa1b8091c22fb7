#!/usr/bin/env python
"""How strongly generated videos carry each latent slot, against ground truth (a motion diagnostic, issue 10).

    python tools/latent_energy.py configs/pavdm/train_tiny.py --reference data/synthetic/train.csv \
        --videos reports/tiny_comparison/extend/videos/pa-ext --skip-chunks 1

Both sets of videos are encoded with the config's VAE (whole 17-frame chunks; at most ``--max-videos`` videos and
``--max-chunks`` chunks each). For every slot n (the n-th latent of a chunk) it prints the root mean square of the
latents over cells and chunks (averaged over channels), for the reference and for each ``--videos`` set, and their ratio. With a
chunk-basis VAE (``ChunkPCAVideoVAE``) it also prints the share of each slot's basis energy that changes over the
chunk (``time_varying_fraction``): the slots near 1 carry the motion. A ratio well below 1 in those slots means the
model makes chunks that barely move inside, which then jump where chunks meet. ``--skip-chunks 1`` leaves out an
extension's given clip. ``--out FILE`` writes everything as JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opensora.datasets.csv_table import read_csv  # noqa: E402
from opensora.models.vae.chunked import latent_slot_rms  # noqa: E402
from opensora.registry import MODELS, build_module  # noqa: E402
from opensora.utils.cli import run_cli  # noqa: E402
from opensora.utils.config import load_config, parse_options, to_dict  # noqa: E402
from opensora.utils.video_io import from_uint8, probe_video, read_frames  # noqa: E402
from tools.eval.evaluate import collect_videos  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="a config whose `vae` encodes the videos (inference or training)")
    p.add_argument("--reference", required=True, help="ground truth: a CSV with a `path` column, a folder or a glob")
    p.add_argument("--videos", action="append", required=True, help="generated videos (folder, glob, file); repeat")
    p.add_argument("--skip-chunks", type=int, default=0, help="leading chunks of each --videos set to leave out")
    p.add_argument("--max-videos", type=int, default=8, help="videos per set")
    p.add_argument("--max-chunks", type=int, default=8, help="17-frame chunks per video")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE", help="config overrides")
    p.add_argument("--out", type=Path, help="write the result as JSON here")
    return p.parse_args(argv)


def _paths(spec: str) -> list:
    if spec.endswith(".csv"):
        return [Path(r["path"]) for r in read_csv(spec, required=("path",))]
    return collect_videos(spec)


def encode_set(vae, paths: list, max_videos: int, max_chunks: int) -> torch.Tensor:
    """Latents (B, C, T, h, w) of the first whole chunks (the same number for every video) of ``paths``."""
    paths = paths[:max_videos]
    r = vae.micro_frame_size
    counts = [probe_video(p).num_frames for p in paths]
    short = [f"{p} ({c} frames)" for p, c in zip(paths, counts) if c < r]
    if short:
        raise ValueError(f"every video needs at least one whole chunk of {r} frames; shorter: {', '.join(short)}")
    chunks = min([max_chunks] + [c // r for c in counts])
    video = torch.stack([from_uint8(read_frames(p, 0, chunks * r)) for p in paths])
    with torch.no_grad():
        return vae.encode(video).float()


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.max_videos < 1 or args.max_chunks < 1:
        raise ValueError(f"--max-videos and --max-chunks must be >= 1, got {args.max_videos} and {args.max_chunks}")
    cfg = load_config(args.config, cfg_options=parse_options(args.cfg_options))
    vae = build_module(to_dict(cfg.vae), MODELS, config_key="vae").eval()
    n = vae.latents_per_chunk
    ref = latent_slot_rms(encode_set(vae, _paths(args.reference), args.max_videos, args.max_chunks), n).mean(0)
    record = {"reference": args.reference, "reference_rms": ref.tolist(), "videos": {}}
    header, rows = "slot", [[f"{i:4d}"] for i in range(n)]
    if hasattr(vae, "time_varying_fraction"):  # a chunk-basis VAE: which slots carry the motion
        moving = vae.time_varying_fraction().mean(1)
        record["time_varying_fraction"] = moving.tolist()
        header += "  time-varying"
        for i in range(n):
            rows[i].append(f"{moving[i]:13.2f}")
    header += "  reference RMS"
    for i in range(n):
        rows[i].append(f"{ref[i]:14.3f}")
    for spec in args.videos:
        z = encode_set(vae, _paths(spec), args.max_videos, args.max_chunks + args.skip_chunks)
        rms = latent_slot_rms(z, n, skip_chunks=args.skip_chunks).mean(0)
        record["videos"][spec] = {"rms": rms.tolist(), "ratio": (rms / ref).tolist()}
        header += f"  | {'/'.join(Path(spec).parts[-2:])}: RMS, ratio"
        for i in range(n):
            rows[i].append(f"  | {rms[i]:.3f}, {rms[i] / ref[i]:.2f}")
    print(header)
    print("\n".join(" ".join(r) for r in rows))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=1))
    return record


if __name__ == "__main__":
    sys.exit(run_cli(lambda argv: main(argv) and 0))
