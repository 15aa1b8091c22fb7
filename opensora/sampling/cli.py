"""The inference command line (``scripts/inference.py``, ``pavdm-infer``): flags -> config -> pipeline.

    python scripts/inference.py configs/pavdm/infer_60s.py --prompt "a red fox runs through snow"
    torchrun --nproc_per_node=8 scripts/inference.py configs/pavdm/infer_60s.py --prompt-path prompts.txt
    python scripts/inference.py configs/pavdm/infer_60s.py --dry-run      # plan.json + heatmap, no weights
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from opensora.utils import dist
from opensora.utils.cli import run_cli
from opensora.utils.config import add_config_args, parse_config
from opensora.utils.logging import setup_logging

from . import plan_export
from .pipeline import LongVideoPipeline
from .prompts import load_prompts

logger = logging.getLogger("opensora.inference")

# argparse dest -> config key (Open-Sora's familiar flags); every other key: --cfg-options key=value
FLAG_TO_KEY = {"ckpt_path": "model.from_pretrained", "prompt": "prompt", "prompt_path": "prompt_path",
               "reference_path": "reference_path", "num_frames": "num_frames", "resolution": "resolution",
               "aspect_ratio": "aspect_ratio", "num_sampling_steps": "scheduler.num_sampling_steps",
               "cfg_scale": "cfg_scale", "seed": "seed", "save_dir": "save_dir", "batch_size": "batch_size",
               "num_sample": "num_sample"}

# every key an inference config holds (tests/configs checks that configs have exactly these)
CONFIG_KEYS = {"model", "vae", "text_encoder", "scheduler", "schedule", "cfg_scale", "num_frames", "resolution",
               "aspect_ratio", "image_size", "fps", "whole_seconds", "prompt", "prompt_path", "reference_path",
               "reference_side", "num_sample", "batch_size", "seed", "dtype", "save_dir", "save_state_every",
               "crf", "save_latents", "progress"}


def _frames(value: str):
    return int(value) if value.isdigit() else value


def build_parser() -> argparse.ArgumentParser:
    description = "Long-video inference (PA-VDM and baselines) with Open-Sora v1.2 weights; see README \"Inference\"."
    parser = add_config_args(argparse.ArgumentParser(description=description))
    add = parser.add_argument
    add("--ckpt-path", help="diffusion model weights: Hub id, snapshot directory or .safetensors file")
    add("--prompt", nargs="+", help="prompt entries (plain, 'text||clip.mp4', or a timeline 'a|0| b|20|')")
    add("--prompt-path", help="prompt file, one entry per line")
    add("--reference-path", nargs="+", help="clip(s)/image(s) to extend: one for all prompts or one per prompt")
    add("--num-frames", type=_frames, help="frames of the long video, or seconds such as 60s")
    add("--resolution", help="240p | 360p | 480p | 720p")
    add("--aspect-ratio", help="H:W, e.g. 9:16")
    add("--num-sampling-steps", type=int, help="Euler steps per latent (PA needs a multiple of K)")
    add("--cfg-scale", type=float, help="classifier-free guidance scale")
    add("--seed", type=int, help="base seed; video j uses seed + j")
    add("--save-dir", help="output directory (mp4 + json per video)")
    add("--batch-size", type=int, help="videos sampled together")
    add("--num-sample", type=int, help="videos per prompt")
    add("--dry-run", action="store_true", help="write plan.json and a heatmap, print the model calls; no weights")
    add("--plan-out", help="plan.json path for --dry-run (default: SAVE_DIR/plan.json)")
    add("--resume", action="store_true", help="continue interrupted videos from their saved state")
    return parser


def flag_prompts_replace_config(cfg, args) -> None:
    """--prompt or --prompt-path replaces the config's prompts of the other kind (a config may set a default)."""
    if args.prompt is not None and args.prompt_path is None:
        cfg.prompt_path = None
    if args.prompt_path is not None and args.prompt is None:
        cfg.prompt = None


def load_items(cfg, required: bool = True) -> list:
    """The prompt items of the run (every rank parses the same list; the pipeline takes each rank's share)."""
    if not (cfg.prompt or cfg.prompt_path) and not required:
        return []
    return load_prompts(cfg.prompt, cfg.prompt_path, cfg.reference_path)


def dry_run(pipe: LongVideoPipeline, items: list, plan_out) -> dict:
    """Plan of the first video (text-only without prompts), written as JSON + PNG; nothing is loaded."""
    record = pipe.plan(items[0] if items else None)
    path = plan_export.write_plan_json(record, plan_out)
    png = plan_export.plot_plan(record, path.with_suffix(".png"))
    print(plan_export.summary(record))
    print(f"model calls: {record['num_calls']}\nwrote {path} and {png}")
    return record


def main(argv=None):
    # 1. config: file + flags + --cfg-options (unknown keys are errors)
    cfg, args = parse_config(build_parser(), argv, FLAG_TO_KEY)
    flag_prompts_replace_config(cfg, args)
    # 2. distributed (torchrun or a single process), logging
    info = dist.init_distributed()
    setup_logging(info.rank, None if args.dry_run else cfg.save_dir)
    # 3. prompts (parsed before any weights are read, so a malformed line fails fast)
    items = load_items(cfg, required=not args.dry_run)
    # 4. networks, scheduler and settings (a dry run builds the VAE's architecture only)
    pipe = LongVideoPipeline.from_config(cfg, dry_run=args.dry_run, device=info.device)
    if args.dry_run:
        plan_out = Path(args.plan_out) if args.plan_out else Path(cfg.save_dir) / "plan.json"
        return dry_run(pipe, items, plan_out) if info.rank == 0 else None
    # 5. generate: each rank streams its videos' chunks into their mp4 files
    written = pipe(items, save_dir=cfg.save_dir, resume=args.resume)
    logger.info("rank %d wrote %d videos to %s", info.rank, len(written), cfg.save_dir)
    dist.barrier()
    dist.destroy()
    return written


def cli() -> int:
    """``main`` with user errors (bad flags, weights not found, short reference, ...) as one-line messages."""
    return run_cli(main)


if __name__ == "__main__":  # python -m opensora.sampling.cli, torchrun -m opensora.sampling.cli
    sys.exit(cli())
