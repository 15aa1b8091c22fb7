"""Builders the training script calls: experiment folder, data pipeline, networks, step parts."""
from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.distributed as dist

from opensora.acceleration.parallel_states import sequence_parallel_model_config
from opensora.datasets import BucketBatchSampler, build_dataloader
from opensora.registry import DATASETS, LOSSES, MODELS, OBJECTIVES, SCHEDULERS, build_module
from opensora.utils.config import to_dict
from opensora.utils.dist import get_world_size, is_main_process
from opensora.utils.dtype import as_dtype


def create_experiment_dir(outputs, name: str) -> Path:
    """``outputs/NNN-name`` with the next free index (chosen on rank 0, shared with every rank)."""
    outputs = Path(outputs)
    chosen = [None]
    if is_main_process():
        outputs.mkdir(parents=True, exist_ok=True)
        used = [int(m.group(1)) for p in outputs.iterdir() if (m := re.match(r"^(\d+)-", p.name))]
        chosen[0] = outputs / f"{max(used, default=-1) + 1:03d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}"
        chosen[0].mkdir()
    if get_world_size() > 1:
        dist.broadcast_object_list(chosen, src=0)
    return Path(chosen[0])


def build_data(cfg, *, rank: int, world_size: int):
    """(dataset, bucket sampler, loader) from ``cfg.dataset``, ``cfg.buckets``, ``cfg.batch_size``, ``cfg.seed``;
    ``rank`` / ``world_size``: this data shard and their number (the data-parallel group and the number of
    groups: the ranks of a sequence-parallel group load the same batches)."""
    dataset = build_module(to_dict(cfg.dataset), DATASETS, config_key="dataset")
    sampler = BucketBatchSampler(dataset, to_dict(cfg.buckets), cfg.batch_size, num_replicas=world_size,
                                 rank=rank, seed=cfg.seed)
    loader = build_dataloader(dataset, sampler, num_workers=cfg.num_workers, pin_memory=torch.cuda.is_available())
    return dataset, sampler, loader


def build_encoders(cfg, *, device, latents_given: bool):
    """(vae, text_encoder). With pre-extracted latents the VAE is built on the meta device (only its frame
    arithmetic is used) and there is no text encoder."""
    if latents_given:
        with torch.device("meta"):
            vae = build_module(dict(to_dict(cfg.vae), from_pretrained=None), MODELS, config_key="vae")
        return vae, None
    vae = build_module(to_dict(cfg.vae), MODELS, config_key="vae").to(device, as_dtype(cfg.dtype))
    vae = vae.eval().requires_grad_(False)
    text_encoder = build_module(to_dict(cfg.text_encoder), MODELS, config_key="text_encoder", device=device)
    text_encoder = text_encoder.eval()
    return vae, text_encoder


def build_model(cfg, *, text_encoder=None):
    """The diffusion model (fp32; the backend casts it), checked against the text encoder's sizes; with
    ``sp_size`` > 1 it splits every frame's tokens over the registered sequence-parallel group."""
    model = build_module(sequence_parallel_model_config(to_dict(cfg.model), cfg.sp_size), MODELS, config_key="model")
    if text_encoder is not None and hasattr(model, "config"):
        want = (text_encoder.model_max_length, text_encoder.output_dim)
        have = (model.config.model_max_length, model.config.caption_channels)
        if want != have:
            raise ValueError(f"model (model_max_length, caption_channels) = {have} but the text encoder gives {want}; "
                             "set model.model_max_length / model.caption_channels to match")
    return model


def build_objective_parts(cfg, *, vae):
    """(scheduler, objective, loss) from ``cfg.scheduler``, ``cfg.objective`` and ``cfg.loss``; the objective takes
    its step count from the scheduler and its chunk size from ``vae``, the loss its metric from ``vae``."""
    scheduler = build_module(to_dict(cfg.scheduler), SCHEDULERS, config_key="scheduler")
    objective = build_module(to_dict(cfg.objective), OBJECTIVES, config_key="objective", scheduler=scheduler,
                             vae=vae)
    loss = build_module(to_dict(cfg.loss), LOSSES, config_key="loss", vae=vae)
    return scheduler, objective, loss
