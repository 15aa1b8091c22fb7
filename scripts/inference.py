"""Long-video inference (PA-VDM and baselines) with Open-Sora v1.2 weights; see README "Inference".

    python scripts/inference.py configs/pavdm/infer_60s.py --prompt "a red fox runs through snow"
    torchrun --nproc_per_node=8 scripts/inference.py configs/pavdm/infer_60s.py --prompt-path prompts.txt
    python scripts/inference.py configs/pavdm/infer_60s.py --dry-run      # plan.json + heatmap, no weights
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

from opensora.models.text_encoder.base import as_dtype
from opensora.registry import MODELS, SCHEDULERS, build_module
from opensora.sampling import plan_export
from opensora.sampling.geometry import image_size_for, video_geometry
from opensora.sampling.pipeline import InferenceSetup, check_references, make_batches, make_jobs, plan_for, run_batch
from opensora.utils import dist
from opensora.utils.config import ConfigKeyError, add_config_args, parse_config, to_dict
from opensora.utils.logging import setup_logging
from opensora.utils.prompts import load_prompts

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
    parser = add_config_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
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


def load_jobs(cfg, required: bool = True) -> list:
    """Every video of the run (all ranks), with names and seeds."""
    if not (cfg.prompt or cfg.prompt_path) and not required:
        return []
    items = load_prompts(cfg.prompt, cfg.prompt_path, cfg.reference_path)
    return make_jobs(items, cfg.num_sample, cfg.seed)


def build_vae(cfg, device, dtype, dry_run: bool):
    """The VAE; for a dry run its architecture only, on the meta device (no weights, no memory)."""
    if dry_run:
        with torch.device("meta"):
            return build_module(dict(to_dict(cfg.vae), from_pretrained=None), MODELS)
    return build_module(to_dict(cfg.vae), MODELS).to(device, dtype).eval()


def build_setup(cfg, args, vae, device, networks: tuple = (None, None)) -> InferenceSetup:
    scheduler = build_module(to_dict(cfg.scheduler), SCHEDULERS)
    size = cfg.image_size or image_size_for(cfg.resolution, cfg.aspect_ratio)
    geom = video_geometry(vae, size, cfg.num_frames, cfg.fps, cfg.whole_seconds)
    model, text_encoder = networks
    fingerprint = {"model": cfg.model.get("from_pretrained"), "config": Path(args.config).name}
    return InferenceSetup(model, vae, text_encoder, scheduler, geom, to_dict(cfg.schedule), cfg.cfg_scale, device,
                          Path(cfg.save_dir), cfg.reference_side, args.resume, cfg.save_state_every,
                          cfg.progress and dist.is_main_process(), cfg.crf, cfg.save_latents, fingerprint)


def dry_run(setup: InferenceSetup, jobs: list, plan_out) -> dict:
    """Plan of the first video (text-only without prompts), written as JSON + PNG; nothing is loaded."""
    has_ref = bool(jobs) and jobs[0].has_reference
    schedule = plan_for(setup, has_ref)
    check_references(setup, jobs[:1])
    record = plan_export.plan_record(schedule, setup.geometry)
    path = Path(plan_out) if plan_out else setup.save_dir / "plan.json"
    plan_export.write_plan_json(record, path)
    png = plan_export.plot_plan(record, path.with_suffix(".png"))
    print(plan_export.summary(record))
    print(f"model calls: {record['num_calls']}\nwrote {path} and {png}")
    return record


def build_networks(cfg, device, dtype) -> tuple:
    model = build_module(to_dict(cfg.model), MODELS).to(device, dtype).eval()
    text_encoder = build_module(to_dict(cfg.text_encoder), MODELS, device=device)
    return model, text_encoder


@torch.inference_mode()
def main(argv=None):
    # 1. config: file + flags + --cfg-options (unknown keys are errors)
    cfg, args = parse_config(build_parser(), argv, FLAG_TO_KEY)
    flag_prompts_replace_config(cfg, args)
    # 2. distributed (torchrun or a single process), logging, seed
    info = dist.init_distributed()
    setup_logging(info.rank, None if args.dry_run else cfg.save_dir)
    torch.manual_seed(cfg.seed)  # only the random init of weight-less test networks; videos use per-video seeds
    dtype = as_dtype(cfg.dtype)
    # 3. prompts -> videos (every rank sees the same list, then takes its share)
    jobs = load_jobs(cfg, required=not args.dry_run)
    # 4. dry run: the plan only
    vae = build_vae(cfg, info.device, dtype, args.dry_run)
    if args.dry_run:
        return dry_run(build_setup(cfg, args, vae, info.device), jobs, args.plan_out) if info.rank == 0 else None
    # 5. networks (weights) and the plan settings
    setup = build_setup(cfg, args, vae, info.device, build_networks(cfg, info.device, dtype))
    mine = dist.shard(jobs, info.rank, info.world_size)
    logger.info("rank %d/%d: %d of %d videos; %s", info.rank, info.world_size, len(mine), len(jobs), setup.geometry)
    check_references(setup, mine)
    # 6. generate: each batch streams its chunks into its own mp4 files
    written = [p for batch in make_batches(mine, cfg.batch_size) for p in run_batch(setup, batch)]
    logger.info("rank %d wrote %d videos to %s", info.rank, len(written), setup.save_dir)
    dist.barrier()
    dist.destroy()
    return written


USER_ERRORS = (ValueError, FileNotFoundError, ConfigKeyError)


def cli() -> int:
    """``main`` with user errors (bad flags, weights not found, short reference, ...) as one-line messages."""
    try:
        main()
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(cli())
