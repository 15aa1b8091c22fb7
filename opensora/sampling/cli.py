"""The inference command line (``scripts/inference.py``, ``pavdm-infer``): flags -> config -> pipeline.

    python scripts/inference.py configs/pavdm/infer_60s.py --prompt "a red fox runs through snow"
    torchrun --nproc_per_node=8 scripts/inference.py configs/pavdm/infer_60s.py --prompt-path prompts.txt
    python scripts/inference.py configs/pavdm/infer_60s.py --dry-run      # plan.json + heatmap, no weights
    torchrun --nproc_per_node=8 scripts/inference.py configs/pavdm/infer_60s.py --cfg-options sp_size=4  # 2 x 4
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from opensora.acceleration.parallel_states import check_sp_config, destroy_parallel_groups, init_parallel_groups
from opensora.utils import dist
from opensora.utils.cli import run_cli
from opensora.utils.config import add_config_args, parse_config, to_dict
from opensora.utils.files import prepare_output_dir
from opensora.utils.logging import setup_logging

from . import plan_export
from .pipeline import CONFIG_KEYS, LongVideoPipeline, check_size_keys
from .prompts import PromptItem, Segment, load_prompts

logger = logging.getLogger("opensora.inference")

# argparse dest -> config key (Open-Sora's familiar flags); every other key: --cfg-options key=value
FLAG_TO_KEY = {"ckpt_path": "model.from_pretrained", "prompt": "prompt", "prompt_path": "prompt_path",
               "reference_path": "reference_path", "num_frames": "num_frames", "resolution": "resolution",
               "aspect_ratio": "aspect_ratio", "num_sampling_steps": "scheduler.num_sampling_steps",
               "cfg_scale": "cfg_scale", "seed": "seed", "save_dir": "save_dir", "batch_size": "batch_size",
               "num_sample": "num_sample"}

__all__ = ["CONFIG_KEYS", "FLAG_TO_KEY", "build_parser", "cli", "main"]
STOP_HINT = "every finished chunk is in the mp4s; rerun the same command with --resume to continue"


def _frames(value: str):
    return int(value) if value.isdigit() else value


def build_parser() -> argparse.ArgumentParser:
    description = "Long-video inference (PA-VDM and baselines) with Open-Sora v1.2 weights; see README \"Inference\"."
    parser = add_config_args(argparse.ArgumentParser(description=description), "configs/pavdm/infer_60s.py",
                             "scheduler.num_sampling_steps=12 image_size=\"(240,426)\"")
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


def user_keys(args, cfg_options: dict) -> set:
    """The config keys this command line sets on top of the config file (flags and --cfg-options)."""
    flags = {key for dest, key in FLAG_TO_KEY.items() if getattr(args, dest, None) is not None}
    return flags | set(cfg_options or {})


def load_items(cfg, required: bool = True) -> list:
    """The prompt items of the run (every rank parses the same list; the pipeline takes each rank's share).
    A dry run without prompts plans each ``--reference-path`` (or a text-only video when there is none)."""
    if not (cfg.prompt or cfg.prompt_path) and not required:
        refs = [cfg.reference_path] if isinstance(cfg.reference_path, str) else list(cfg.reference_path or [])
        return [PromptItem((Segment("(no prompt)", 0.0),), str(r), "--reference-path") for r in refs]
    return load_prompts(cfg.prompt, cfg.prompt_path, cfg.reference_path)


def dry_run(pipe: LongVideoPipeline, items: list, plan_out, cfg) -> dict:
    """The first video's plan (text-only without prompts) as JSON + PNG with its ``cost`` section (FLOPs,
    memory per rank for ``cfg.sp_size``, weights), and the model calls of every video (all of them were
    checked as a real run checks them). Nothing is loaded."""
    record = pipe.plan(items[0] if items else None)
    cost = plan_export.add_cost(record, cfg, pipe.geometry())
    path = plan_export.write_plan_json(record, plan_out)
    png = plan_export.plot_plan(record, path.with_suffix(".png"))
    print(plan_export.summary(record))
    print(cost)
    if len(items) > 1:
        calls = {}  # one plan per start: text only / with a reference
        for item in items:
            start = item.reference is not None
            calls.setdefault(start, pipe.plan(item)["num_calls"])
        total = sum(calls[i.reference is not None] for i in items) * pipe.sampling.num_sample
        print(f"{len(items)} prompts x {pipe.sampling.num_sample} sample(s) checked: {total} model calls in total")
    print(f"model calls: {record['num_calls']}\nwrote {path} and {png}")
    return record


def main(argv=None):
    # 1. config: file + flags + --cfg-options (unknown keys, ignored flags and bad values are errors)
    cfg, args = parse_config(build_parser(), argv, FLAG_TO_KEY)
    flag_prompts_replace_config(cfg, args)
    check_size_keys(cfg, user_keys(args, args.cfg_options))
    if not args.dry_run:
        prepare_output_dir(cfg.save_dir)
    # 2. distributed (torchrun or a single process), logging; sp_size (a dry run plans for it from one process)
    info = dist.init_distributed()
    setup_logging(info.rank, None if args.dry_run else cfg.save_dir)
    check_sp_config(cfg.sp_size, to_dict(cfg.model), None if args.dry_run else info.world_size,
                    "scripts/inference.py")
    # 3. prompts, plans, references, timelines: all checked before any network is built or weights are read
    items = load_items(cfg, required=not args.dry_run)
    planner = LongVideoPipeline.from_config(cfg, dry_run=True, device=info.device)
    if items:
        planner.check(items)
    if args.dry_run:
        plan_out = Path(args.plan_out) if args.plan_out else Path(cfg.save_dir) / "plan.json"
        return dry_run(planner, items, plan_out, cfg) if info.rank == 0 else None
    # 4. data x sequence-parallel groups (collective), networks, scheduler and settings
    groups = init_parallel_groups(cfg.sp_size)
    pipe = LongVideoPipeline.from_config(cfg, device=info.device)
    if cfg.text_encoder_offload:
        pipe.offload_text_encoder(items)
    logger.info("%d process(es): %d data-parallel group(s) of sp_size %d", info.world_size, groups.dp_size,
                groups.sp_size)
    # 5. generate: each group streams its videos' chunks into their mp4 files (one writer per group)
    written = pipe(items, save_dir=cfg.save_dir, resume=args.resume)
    logger.info("rank %d wrote %d videos to %s", info.rank, len(written), cfg.save_dir)
    dist.barrier()
    destroy_parallel_groups()
    dist.destroy()
    return written


def cli() -> int:
    """``main`` with user errors (bad flags, weights not found, short reference, ...) as one-line messages."""
    return run_cli(main, stop_hint=STOP_HINT)


if __name__ == "__main__":  # python -m opensora.sampling.cli, torchrun -m opensora.sampling.cli
    sys.exit(cli())
