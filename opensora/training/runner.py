"""The training composition root: from a config to a finished run (what ``scripts/train.py`` runs).

    from opensora.training import train
    final = train("configs/pavdm/train_tiny_cpu.py", **{"dataset.data_path": "data/tiny.csv", "max_steps": 20})

Phases (each one call): checks of the config (keys, values, data file, ``load``); distributed set-up; data
(the CSV is read and batches are planned); the experiment folder ``outputs/NNN-<config>`` and logging;
networks (built from one seed so that every rank starts identical) and the EMA; scheduler and objective;
backend (optimizer, lr warm-up, ZeRO / DDP); monitor; resume (``load``); the loop. A run that fails before
its first step removes its experiment folder again.
"""
from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Union

import torch
from mmengine.config import Config

from opensora.acceleration.backend import build_backend
from opensora.acceleration.checkpoint import list_checkpoints
from opensora.acceleration.parallel_states import (ParallelGroups, check_sp_config, destroy_parallel_groups,
                                                   group_seed, init_parallel_groups)
from opensora.utils.config import apply_overrides, load_config, to_dict
from opensora.utils.dist import DistInfo, destroy, init_distributed
from opensora.utils.logging import get_logger, setup_logging

from .build import build_data, build_encoders, build_model, build_objective_parts, create_experiment_dir
from .loop import LoopConfig, Trainer
from .monitor import Monitor
from .preflight import check_train_config
from .step import StepParts
from .train_utils import create_ema

logger = get_logger("train")


def seeded_generators(seed: int, groups: ParallelGroups, device) -> tuple[torch.Generator, torch.Generator]:
    """Per data-parallel group streams (``group_seed``: the ranks of a sequence-parallel group compute one
    batch together, so they draw the same): one on the device (noise, VAE, caption dropout), one on the CPU
    (levels). Without sequence parallelism a group is one rank (``seed + rank``)."""
    base = group_seed(seed, groups)
    torch.manual_seed(base)
    gen = torch.Generator(device=device).manual_seed(base)
    return gen, torch.Generator().manual_seed(base + 7919)


def _networks(cfg: Config, info: DistInfo, latents_given: bool) -> tuple:
    """(vae, text_encoder, model, ema, scheduler, objective), the networks from one seed on every rank."""
    torch.manual_seed(cfg.seed)
    vae, text_encoder = build_encoders(cfg, device=info.device, latents_given=latents_given)
    model = build_model(cfg, text_encoder=text_encoder)
    ema = create_ema(model).to(info.device)
    scheduler, objective, loss = build_objective_parts(cfg, vae=vae)
    logger.info("model %s: %.2f M parameters (%.2f M trainable)", cfg.model.type,
                sum(p.numel() for p in model.parameters()) / 1e6,
                sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6)
    return vae, text_encoder, model, ema, scheduler, objective, loss


def build_trainer(cfg: Config, exp_dir: Path, info: DistInfo, groups: ParallelGroups,
                  data: tuple) -> tuple[Trainer, Monitor]:
    """Networks, backend, step parts, monitor and loop of one run over ``data`` = (dataset, sampler, loader)."""
    dataset, sampler, loader = data
    logger.info("dataset: %d rows, buckets %s, %d batches per data-parallel group in epoch 0",
                len(dataset), sampler.buckets, sampler.num_batches(0))
    logger.info("backend %s, plugin %s, dtype %s, grad_clip %g, %d process(es): %d data-parallel group(s) of "
                "sp_size %d", cfg.backend, cfg.plugin, cfg.dtype, cfg.grad_clip, info.world_size, groups.dp_size,
                groups.sp_size)
    vae, text_encoder, model, ema, scheduler, objective, loss = _networks(cfg, info, dataset.provides_latents)
    backend = build_backend(model, backend=cfg.backend, optimizer=to_dict(cfg.optimizer),
                            warmup_steps=cfg.warmup_steps, plugin=cfg.plugin, dtype=cfg.dtype,
                            grad_clip=cfg.grad_clip, device=info.device)
    generator, level_generator = seeded_generators(cfg.seed, groups, info.device)
    parts = StepParts(backend=backend, scheduler=scheduler, objective=objective, vae=vae, text_encoder=text_encoder,
                      generator=generator, level_generator=level_generator, device=info.device,
                      loss_fn=loss)
    monitor = Monitor(exp_dir, tensorboard=cfg.tensorboard, wandb=cfg.wandb, wandb_project=cfg.wandb_project,
                      run_name=exp_dir.name, config=to_dict(cfg.to_dict()))
    loop = LoopConfig(epochs=cfg.epochs, max_steps=cfg.max_steps, log_every=cfg.log_every,
                      ckpt_every=cfg.ckpt_every, keep_last=cfg.keep_last, ema_decay=cfg.ema_decay,
                      ema_warmup=cfg.ema_warmup)
    return Trainer(parts, loader, sampler, ema, monitor, exp_dir, loop), monitor


@contextlib.contextmanager
def _removed_if_no_step(exp_dir: Path, rank: int):
    """On failure, remove ``exp_dir`` if the run never trained (no metrics, no checkpoint): a failed start
    leaves no empty experiment folder behind."""
    try:
        yield
    except BaseException:
        if rank == 0 and not list_checkpoints(exp_dir) and not (exp_dir / "metrics.jsonl").exists():
            setup_logging(rank, None)  # closes log.txt before its folder goes
            shutil.rmtree(exp_dir, ignore_errors=True)
        raise


def train(config: Union[str, Path, Config], **overrides) -> Path:
    """Train from a config (a file or a loaded ``Config``; ``overrides`` are dotted keys, unknown keys raise).

    Returns the final checkpoint folder. Raises ``NonFiniteLossError`` (every rank at the same step) if the
    loss becomes NaN or inf, before the optimizer step; the last good checkpoint is kept.
    """
    cfg = apply_overrides(load_config(config) if not isinstance(config, Config) else config, overrides)
    # 1. checks (keys, values, data file, load), distributed, data: no folder is created before these pass
    check_train_config(cfg)
    info = init_distributed()
    setup_logging(info.rank, None)
    check_sp_config(cfg.sp_size, to_dict(cfg.model), info.world_size, "scripts/train.py")
    groups = init_parallel_groups(cfg.sp_size)  # collective; batches are sharded over the data-parallel groups
    data = build_data(cfg, rank=groups.dp_rank, world_size=groups.dp_size)
    data[1].num_batches(0)  # raises if the data gives no full batch
    # 2. experiment folder, logging
    exp_dir = create_experiment_dir(cfg.outputs, Path(cfg.filename).stem)
    with _removed_if_no_step(exp_dir, info.rank):
        setup_logging(info.rank, exp_dir)
        if info.rank == 0:
            cfg.dump(str(exp_dir / "config.py"))
        logger.info("experiment %s, %d process(es) on %s", exp_dir, info.world_size, info.device)
        # 3. networks, backend, monitor
        trainer, monitor = build_trainer(cfg, exp_dir, info, groups, data)
        # 4. resume, then train (every rank sees the same all-reduced loss, so a NaN stops all of them here)
        if cfg.load:
            trainer.resume(cfg.load)
        try:
            final = trainer.fit()
        finally:
            monitor.close()
            destroy_parallel_groups()
            destroy()
    logger.info("done after %d steps; final checkpoint %s; EMA weights for inference: %s",
                trainer.pos.global_step, final, final / "ema" / "model.safetensors")
    return final
