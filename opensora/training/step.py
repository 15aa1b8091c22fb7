"""One training step: draw the levels, encode the batch, compute the masked rectified-flow loss.

Batch keys (from ``opensora.datasets``): either ``video`` (B, 3, F, H, W) in [-1, 1] and ``text`` (B str), or
pre-extracted ``latents`` (B, 4, T, h, w), ``y`` (B, 1, L, D), ``mask`` (B, L); plus ``fps``, ``height``,
``width``, ``num_frames`` (B,). Levels are drawn first so that only the frames of the sampled window are
VAE-encoded (VAE chunks are independent, so the first 17 c frames encode to exactly the first 5 c latents).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from opensora.schedulers.rectified_flow import masked_mse
from opensora.utils.dist import get_world_size


def frames_for_latents(vae, num_latents: int) -> int:
    """Fewest pixel frames that ``vae`` encodes to ``num_latents`` latent frames (17 for 5, 119 for 35)."""
    frames = 1
    while vae.latent_frames(frames) < num_latents:
        frames += 1
    if vae.latent_frames(frames) != num_latents:
        raise ValueError(f"no pixel frame count encodes to exactly {num_latents} latents with this VAE")
    return frames


def available_latents(batch: dict, vae) -> int:
    """Latent frames the batch can provide (the window may use a prefix of them)."""
    if "latents" in batch:
        return int(batch["latents"].shape[2])
    return vae.latent_frames(int(batch["video"].shape[2]))


@torch.no_grad()
def encode_batch(batch: dict, num_latents: int, *, vae, text_encoder, generator, device):
    """x0 (B, 4, num_latents, h, w) and the model's conditioning kwargs (y, mask, fps, height, width)."""
    if "latents" in batch:
        x0 = batch["latents"][:, :, :num_latents].to(device, torch.float32)
        y, mask = batch["y"].to(device), batch["mask"].to(device)
    else:
        video = batch["video"][:, :, : frames_for_latents(vae, num_latents)]
        x0 = vae.encode(video.to(device, vae.dtype), generator=generator).float()
        text = text_encoder.encode(list(batch["text"]))
        y, mask = text["y"].to(device), text["mask"].to(device)
    if x0.shape[2] != num_latents:
        raise ValueError(f"the batch gave {x0.shape[2]} latent frames, the sampled window needs {num_latents}")
    cond = {k: batch[k].to(device) for k in ("fps", "height", "width")}
    return x0, dict(y=y.float(), mask=mask, **cond)


@dataclass
class StepParts:
    """What a training step needs (built once by the script)."""

    backend: Any          # opensora.acceleration.backend: forward / backward / step / module
    scheduler: Any        # RFlow: training_losses
    objective: Any        # opensora.training.objectives: sample
    vae: Any
    text_encoder: Any
    generator: torch.Generator  # on ``device``: noise, VAE posterior, caption dropout
    level_generator: torch.Generator  # on the CPU: the objective's levels and window types
    device: torch.device
    loss_fn: Any = masked_mse  # (pred, target, loss_mask) -> (B,): opensora.training.losses, config ``loss``

    def model_fn(self, x, t, **kwargs):
        return self.backend.forward(x=x, timestep=t, generator=self.generator, **kwargs)


def compute_loss(parts: StepParts, batch: dict) -> tuple[torch.Tensor, dict]:
    """Mean loss over this rank's batch (with graph) and step facts for logging."""
    size = len(batch["text"])
    t, loss_mask, info = parts.objective.sample(size, available_latents(batch, parts.vae), height=batch["height"],
                                                width=batch["width"], generator=parts.level_generator,
                                                device=parts.device)
    x0, model_kwargs = encode_batch(batch, t.shape[1], vae=parts.vae, text_encoder=parts.text_encoder,
                                    generator=parts.generator, device=parts.device)
    out = parts.scheduler.training_losses(parts.model_fn, x0, t, model_kwargs=model_kwargs, loss_mask=loss_mask,
                                          generator=parts.generator, loss_fn=parts.loss_fn)
    return out["loss"], {"num_latents": int(t.shape[1]), "batch_size": size, **info}


def global_mean(value: torch.Tensor) -> float:
    """Mean of a scalar over all ranks (the logged loss; also what the NaN guard checks)."""
    value = value.detach().float().reshape(1).clone()
    if get_world_size() > 1:
        dist.all_reduce(value)
        value /= get_world_size()
    return float(value)
