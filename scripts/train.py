#!/usr/bin/env python
"""Fine-tune STDiT3 (Open-Sora v1.2) with per-frame noise levels: PA progressive, FoPP or Open-Sora's.

    torchrun --nproc_per_node=8 scripts/train.py configs/pavdm/train.py --data-path data/train.csv
    torchrun --nproc_per_node=2 scripts/train.py configs/pavdm/train_tiny_cpu.py --data-path data/tiny.csv  # CPU
    ... --load outputs/000-train/epoch0-global_step500      # resume everything, exactly

Every flag below is a shortcut for one config key; ``--cfg-options key=value`` sets any other key.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from opensora.acceleration.backend import build_backend
from opensora.training.build import (build_data, build_encoders, build_model, build_objective_parts,
                                     create_experiment_dir)
from opensora.training.loop import LoopConfig, Trainer
from opensora.training.monitor import Monitor
from opensora.training.step import StepParts
from opensora.utils.config import add_config_args, parse_config, to_dict
from opensora.utils.dist import destroy, init_distributed
from opensora.utils.logging import get_logger, setup_logging
from opensora.utils.train_utils import NonFiniteLossError, create_ema

logger = get_logger("train")

# flag dest -> config key (Open-Sora's training flags)
FLAG_TO_KEY = {
    "ckpt_path": "model.from_pretrained", "data_path": "dataset.data_path", "outputs": "outputs", "load": "load",
    "batch_size": "batch_size", "lr": "optimizer.lr", "epochs": "epochs", "max_steps": "max_steps", "seed": "seed",
    "num_workers": "num_workers", "warmup_steps": "warmup_steps", "ckpt_every": "ckpt_every",
    "log_every": "log_every", "grad_checkpoint": "model.grad_ckpt", "plugin": "plugin", "dtype": "dtype",
    "wandb": "wandb",
}


def build_parser() -> argparse.ArgumentParser:
    p = add_config_args(argparse.ArgumentParser(description=__doc__,
                                                formatter_class=argparse.RawDescriptionHelpFormatter))
    p.add_argument("--ckpt-path", help="initial STDiT3 weights (Hub id, snapshot folder or .safetensors)")
    p.add_argument("--data-path", help="dataset CSV (tools/build_csv.py or tools/extract_features.py)")
    p.add_argument("--outputs", help="folder for experiment folders (outputs/NNN-<config>)")
    p.add_argument("--load", help="training checkpoint folder to resume from (model, EMA, optimizer, data, RNG)")
    p.add_argument("--batch-size", type=int, help="samples per process and step")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", type=int, help="stop after this many global steps")
    p.add_argument("--seed", type=int)
    p.add_argument("--num-workers", type=int, help="DataLoader workers per process")
    p.add_argument("--warmup-steps", type=int)
    p.add_argument("--ckpt-every", type=int, help="save every N steps (and always at the end)")
    p.add_argument("--log-every", type=int)
    p.add_argument("--grad-checkpoint", type=lambda s: s.lower() in ("1", "true", "yes"), metavar="BOOL")
    p.add_argument("--plugin", help="zero2 | ddp (backend colossalai); zero | ddp (backend torch)")
    p.add_argument("--dtype", help="bf16 | fp32")
    p.add_argument("--wandb", action="store_const", const=True, help="also log to Weights & Biases")
    return p


def seeded_generators(seed: int, rank: int, device) -> tuple[torch.Generator, torch.Generator]:
    """Per-rank streams: one on the device (noise, VAE, caption dropout), one on the CPU (levels)."""
    torch.manual_seed(seed + rank)
    gen = torch.Generator(device=device).manual_seed(seed + rank)
    return gen, torch.Generator().manual_seed(seed + rank + 7919)


def main(argv=None) -> int:
    # 1. config ------------------------------------------------------------------------------------
    cfg, args = parse_config(build_parser(), argv, FLAG_TO_KEY)
    if cfg.dataset.get("data_path") is None:
        raise SystemExit("no training data: pass --data-path CSV (see tools/build_csv.py)")

    # 2. distributed, logging, experiment folder ---------------------------------------------------
    dist_info = init_distributed()
    exp_dir = create_experiment_dir(cfg.outputs, Path(args.config).stem)
    setup_logging(dist_info.rank, exp_dir)
    if dist_info.rank == 0:
        cfg.dump(str(exp_dir / "config.py"))
    logger.info("experiment %s, %d process(es) on %s", exp_dir, dist_info.world_size, dist_info.device)

    # 3. data --------------------------------------------------------------------------------------
    dataset, sampler, loader = build_data(cfg, rank=dist_info.rank, world_size=dist_info.world_size)
    logger.info("dataset: %d rows, buckets %s, %d batches per process in epoch 0",
                len(dataset), sampler.buckets, sampler.num_batches(0))

    # 4. networks (built from one seed so every rank starts identical) -----------------------------
    torch.manual_seed(cfg.seed)
    vae, text_encoder = build_encoders(cfg, device=dist_info.device, latents_given=dataset.provides_latents)
    model = build_model(cfg, text_encoder=text_encoder)
    ema = create_ema(model).to(dist_info.device)
    scheduler, objective = build_objective_parts(cfg, vae=vae)
    logger.info("model %s: %.2f M parameters (%.2f M trainable)", cfg.model.type,
                sum(p.numel() for p in model.parameters()) / 1e6,
                sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6)

    # 5. backend (optimizer, lr warm-up, ZeRO / DDP) -----------------------------------------------
    backend = build_backend(model, backend=cfg.backend, optimizer=to_dict(cfg.optimizer),
                            warmup_steps=cfg.warmup_steps, plugin=cfg.plugin, dtype=cfg.dtype,
                            grad_clip=cfg.grad_clip, device=dist_info.device)
    generator, level_generator = seeded_generators(cfg.seed, dist_info.rank, dist_info.device)
    parts = StepParts(backend, scheduler, objective, vae, text_encoder, generator, level_generator, dist_info.device)
    monitor = Monitor(exp_dir, tensorboard=cfg.tensorboard, wandb=cfg.wandb, wandb_project=cfg.wandb_project,
                      run_name=exp_dir.name, config=to_dict(cfg.to_dict()))
    loop = LoopConfig(epochs=cfg.epochs, max_steps=cfg.max_steps, log_every=cfg.log_every,
                      ckpt_every=cfg.ckpt_every, keep_last=cfg.keep_last, ema_decay=cfg.ema_decay)
    trainer = Trainer(parts, loader, sampler, ema, monitor, exp_dir, loop)

    # 6. resume ------------------------------------------------------------------------------------
    if cfg.load:
        trainer.resume(cfg.load)

    # 7. train -------------------------------------------------------------------------------------
    try:
        final = trainer.fit()
    except NonFiniteLossError as exc:  # every rank sees the same all-reduced loss, so all stop here
        logger.error("%s", exc)
        return 1
    finally:
        monitor.close()
        destroy()

    # 8. result ------------------------------------------------------------------------------------
    logger.info("done after %d steps; final checkpoint %s; EMA weights for inference: %s",
                trainer.pos.global_step, final, final / "ema" / "model.safetensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
