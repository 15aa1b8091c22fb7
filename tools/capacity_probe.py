#!/usr/bin/env python
"""Fit a candidate model to a few clips and report its loss and x0 pixel error (opensora.training.capacity_probe).

    python tools/capacity_probe.py configs/pavdm/train_tiny.py --data-path data/synthetic/train.csv
    python tools/capacity_probe.py configs/pavdm/train_tiny_w256.py --data-path data/synthetic/train.csv \
        --num-clips 4 --steps 400
    python tools/capacity_probe.py configs/pavdm/train_tiny_w256.py --data-path data/synthetic/train.csv \
        --weights checkpoints/tiny_next/w256_b/model.safetensors --levels 0.3 0.7 0.95 1.0 --shuffle-captions

The networks (model, VAE, text encoder) come from the training config (``--cfg-options model.hidden_size=192``
changes one); the first 17 frames of the first ``--num-clips`` videos of the CSV, with their captions, are the
clips. Prints the parameter count, the loss every 100 steps, the wall time and the x0 pixel error per level, and
with ``--out FILE`` writes them as JSON. ``--weights`` measures a trained model instead (no fitting unless
``--steps`` is given); ``--shuffle-captions`` also measures it with every clip given the next clip's caption, which
shows how much its estimate depends on the text. ``--continuation`` measures a trained model's use of the clean
context chunk instead (``measure_continuation``: the first two chunks of each clip, the second estimated from the
first given clean, against the next clip's first chunk), with the model-free reference of copying the context's
last frame shifted by the context's own pan (``estimate_pan_speed``).

    python tools/capacity_probe.py configs/pavdm/train_tiny_pan_b.py --data-path data/synthetic/heldout.csv \
        --weights checkpoints/tiny_next/pan_b --num-clips 12 --continuation --levels 0.3 0.5 0.7 0.9 1.0
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opensora.datasets.csv_table import read_csv  # noqa: E402
from opensora.registry import MODELS, build_module  # noqa: E402
from opensora.models.vae.pan_chunk_pca_vae import estimate_pan_speed, shift_columns  # noqa: E402
from opensora.training.capacity_probe import measure_continuation, measure_x0_error, probe_capacity  # noqa: E402
from opensora.utils.cli import run_cli  # noqa: E402
from opensora.utils.config import load_config, parse_options, to_dict  # noqa: E402
from opensora.utils.video_io import from_uint8, read_frames  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="training config whose model / vae / text_encoder are probed")
    p.add_argument("--data-path", required=True, help="CSV of videos (Open-Sora format: path, text)")
    p.add_argument("--num-clips", type=int, default=4, help="clips to fit (the first N videos' first chunk)")
    p.add_argument("--steps", type=int, help="fitting steps (default 400; 0 with --weights)")
    p.add_argument("--weights", help="trained model weights (.safetensors file or folder) to start from / measure")
    p.add_argument("--shuffle-captions", action="store_true",
                   help="also measure with each clip given the next clip's caption (text dependence)")
    p.add_argument("--continuation", action="store_true",
                   help="measure how a trained model (--weights) continues a clean context chunk (needs clips of "
                        "2 chunks, 34 frames, and --num-clips >= 2)")
    p.add_argument("--draws", type=int, default=4, help="noise draws per level")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--levels", type=float, nargs="+", default=[0.3, 0.7, 0.95], help="noise levels t in (0, 1]")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE", help="config overrides")
    p.add_argument("--out", type=Path, help="write the result as JSON here")
    return p.parse_args(argv)


def _networks(args):
    """The config's VAE and text encoder (eval mode) and its model, with ``--weights`` when given."""
    cfg = load_config(args.config, cfg_options=parse_options(args.cfg_options))
    torch.manual_seed(args.seed)
    vae = build_module(to_dict(cfg.vae), MODELS, config_key="vae").eval()
    text_encoder = build_module(to_dict(cfg.text_encoder), MODELS, config_key="text_encoder").eval()
    model = build_module(dict(to_dict(cfg.model), from_pretrained=args.weights), MODELS, config_key="model")
    return vae, text_encoder, model


def _clips(args, frames: int):
    """The first ``--num-clips`` rows of the CSV and their first ``frames`` frames, (N, 3, frames, H, W) in [-1, 1]."""
    rows = read_csv(args.data_path)[: args.num_clips]
    if len(rows) < args.num_clips:
        raise ValueError(f"{args.data_path} has {len(rows)} videos; --num-clips {args.num_clips} needs that many")
    return rows, torch.stack([from_uint8(read_frames(r["path"], 0, frames)) for r in rows])


def _write(record: dict, out) -> None:
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(record, indent=1))


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.num_clips < 1:
        raise ValueError(f"--num-clips must be >= 1, got {args.num_clips}")
    if args.steps is None:
        args.steps = 0 if args.weights else 400
    if args.continuation:
        return continuation(args)
    if args.shuffle_captions and args.num_clips < 2:
        raise ValueError("--shuffle-captions needs --num-clips >= 2 (each clip gets another clip's caption)")
    vae, text_encoder, model = _networks(args)
    rows, video = _clips(args, vae.micro_frame_size)
    with torch.no_grad():
        z0 = vae.encode(video).float()
        text = text_encoder.encode([r["text"] for r in rows])
    result = probe_capacity(model, vae, z0, text, steps=args.steps, lr=args.lr, eval_levels=args.levels,
                            eval_draws=args.draws, seed=args.seed,
                            progress=lambda s, l: print(f"step {s}: loss {l:.4f}", flush=True))
    record = asdict(result)
    print(f"{result.num_params / 1e6:.2f} M parameters, {result.steps} steps in {result.seconds:.0f} s; "
          "x0 pixel error (0-255): " + ", ".join(f"t={t:g}: {e:.2f}" for t, e in result.x0_pixel_error.items()))
    if args.shuffle_captions:
        with torch.no_grad():
            other = text_encoder.encode([r["text"] for r in rows[1:] + rows[:1]])
        record["x0_pixel_error_shuffled_captions"] = measure_x0_error(
            model, vae, z0, other, levels=args.levels, draws=args.draws,
            generator=torch.Generator().manual_seed(args.seed))  # the same noise as above when --steps 0
        print("with another clip's caption: " + ", ".join(
            f"t={t:g}: {e:.2f}" for t, e in record["x0_pixel_error_shuffled_captions"].items()))
    _write(record, args.out)
    return record


def shifted_copy(context: torch.Tensor, frames: int) -> torch.Tensor:
    """Model-free continuation of pixel chunks (N, 3, r, H, W): the last frame shifted by the chunk's own pan,
    frame j of the next chunk by v (j + 1) (``estimate_pan_speed``, border-clamped) -> (N, 3, frames, H, W)."""
    speed = estimate_pan_speed(context.double(), 4.0, 1 / 32)
    last = context[:, :, -1].double()
    width = last.shape[-1]
    return torch.stack([shift_columns(last, -speed * (j + 1), width) for j in range(frames)], dim=2).float()


def continuation(args) -> dict:
    if not args.weights:
        raise ValueError("--continuation measures a trained model: pass --weights")
    if args.num_clips < 2:
        raise ValueError(f"--continuation needs --num-clips >= 2 (the other clip's context), got {args.num_clips}")
    vae, text_encoder, model = _networks(args)
    model.eval()
    r = vae.micro_frame_size
    rows, video = _clips(args, 2 * r)
    with torch.no_grad():
        z0 = vae.encode(video).float()
        text = text_encoder.encode([row["text"] for row in rows])
        truth = vae.decode(z0[:, :, vae.latents_per_chunk:], num_frames=None).float()
    copy = float((shifted_copy(video[:, :, :r], r) - truth).abs().mean() * 127.5)
    errors = measure_continuation(model, vae, z0, text, levels=args.levels, draws=args.draws,
                                  generator=torch.Generator().manual_seed(args.seed))
    record = {"continuation_error": errors, "shifted_copy_error": copy}
    print(f"second chunk from the first (x0 pixel error, 0-255); shifted copy of the context's last frame: {copy:.2f}")
    for t, e in errors.items():
        print(f"t={t:g}: own context {e['right']:.2f}, another clip's {e['other']:.2f}")
    _write(record, args.out)
    return record


if __name__ == "__main__":
    sys.exit(run_cli(lambda argv: main(argv) and 0))
