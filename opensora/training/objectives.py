"""Training objectives: how each batch's per-frame noise levels t (B, T) and loss mask (B, T) are drawn.

=========  ===================================================================================
opensora   Open-Sora v1.2: one clip-level t per sample (uniform or logit-normal, from the
           scheduler's ``sample_method``), shifted with the ratio of the batch's own window,
           as a constant (B, T) row; every latent counts in the loss.
pa         PA-VDM progressive (method section 6): per-chunk levels of a sampled window type
           (steady / initialization / termination / text-to-video, one type per batch), linear
           shift, the clean context chunk masked out of the loss; the ratio is the full
           inference window's (the same r as at inference).
fopp       AR-Diffusion FoPP (method section 7): non-decreasing per-chunk step indices over the
           noisy chunks, mapped through the same S-step levels; context chunk as for ``pa``.
=========  ===================================================================================

An objective is registered in ``opensora.registry.OBJECTIVES`` and built with ``build_module(cfg,
OBJECTIVES, scheduler=..., vae=...)``: the step count S comes from the scheduler (``num_sampling_steps``, the
same S as inference) and the chunk size C and frame arithmetic from the VAE, so neither is repeated in the
config. It has one method, ``sample(batch_size, num_latents, *, height, width, generator, device) -> (t,
loss_mask, info)`` with ``generator`` a CPU torch.Generator. T = t.shape[1] may be shorter than
``num_latents`` (a partial window); the caller then uses the first T latents. ``loss_mask`` None means all
latents count.
"""
from __future__ import annotations

import torch

from opensora.registry import OBJECTIVES
from opensora.schedulers import (pa_window_latents, pa_window_probs, sample_fopp_training_levels,
                                 sample_pa_training_levels, steps_per_round)

from .step import frames_for_latents


def _batch_ratio(scheduler, height, width, num_frames: int, batch_size: int, device) -> torch.Tensor:
    """(B, 1) shift ratio for windows of ``num_frames`` pixel frames at each sample's pixel size."""
    h, w = (torch.as_tensor(v).flatten().cpu().expand(batch_size) for v in (height, width))
    return scheduler.ratio(h, w, num_frames).to(device)


@OBJECTIVES.register_module("opensora")
class OpenSoraObjective:
    """Open-Sora's standard objective: scalar t per sample, all latents in the loss."""

    def __init__(self, *, scheduler, vae):
        self.scheduler, self.vae = scheduler, vae

    def sample(self, batch_size, num_latents, *, height, width, generator, device):
        frames = frames_for_latents(self.vae, num_latents)
        ratio = _batch_ratio(self.scheduler, height, width, frames, batch_size, "cpu")
        t = self.scheduler.sample_t(batch_size, num_latents, ratio=ratio, generator=generator, device="cpu")
        return t.float().to(device), None, {"window": "clip", "num_latents": num_latents}


def _full_window_ratio(obj, height, width, batch_size, device) -> torch.Tensor:
    """Ratio of the full inference window (steady: K noisy chunks + context), whatever window is trained."""
    frames = frames_for_latents(obj.vae, obj.full_latents)
    return _batch_ratio(obj.scheduler, height, width, frames, batch_size, device)


def _too_short(num_latents: int, need: int, what: str) -> ValueError:
    return ValueError(f"the batch has {num_latents} latent frames, but {what} needs {need}; use buckets of at least "
                      f"the full window's pixel frames (e.g. buckets=[(119, 1.0)] for 35 latents)")


@OBJECTIVES.register_module("pa")
class ProgressiveObjective:
    """PA-VDM progressive levels (``sample_pa_training_levels``), one window type per batch.

    Window types are drawn from ``window_probs`` (default: half on "steady", the rest uniform over the
    partial types), restricted to the types that fit the batch's latents: with the default bucket (the full
    window) the configured probabilities hold exactly; a shorter bucket trains only the windows that fit.

    Args: scheduler (S = ``num_sampling_steps``), vae (C = ``latents_per_chunk``), num_noisy_chunks (K),
    shift ("linear-shift"), linear_shift_scale (the paper's 0.4), window_probs, keep_x0 (clean context chunk,
    masked out of the loss).
    """

    def __init__(self, *, scheduler, vae, num_noisy_chunks: int = 6, shift: str = "linear-shift",
                 linear_shift_scale: float = 0.4, window_probs: dict | None = None, keep_x0: bool = True):
        num_steps, chunk_size = scheduler.num_sampling_steps, vae.latents_per_chunk
        steps_per_round(num_steps, num_noisy_chunks)  # validates K | S
        self.scheduler, self.vae = scheduler, vae
        self.kw = dict(num_steps=num_steps, num_noisy_chunks=num_noisy_chunks, chunk_size=chunk_size, shift=shift,
                       linear_shift_scale=linear_shift_scale, keep_x0=keep_x0)
        self.probs = pa_window_probs(num_noisy_chunks, keep_x0=keep_x0, window_probs=window_probs)
        self.lengths = {n: pa_window_latents(n, num_noisy_chunks=num_noisy_chunks, chunk_size=chunk_size,
                                             keep_x0=keep_x0) for n in self.probs}
        self.full_latents = self.lengths["steady"]

    def draw_window(self, num_latents: int, generator) -> str:
        names = [n for n in self.probs if self.lengths[n] <= num_latents and self.probs[n] > 0]
        if not names:
            raise _too_short(num_latents, min(self.lengths.values()), "every PA window with weight > 0")
        weights = torch.tensor([self.probs[n] for n in names], dtype=torch.float64)
        return names[int(torch.multinomial(weights, 1, generator=generator))]

    def sample(self, batch_size, num_latents, *, height, width, generator, device):
        window = self.draw_window(num_latents, generator)
        ratio = _full_window_ratio(self, height, width, batch_size, "cpu")
        t, mask, info = sample_pa_training_levels(batch_size, ratio=ratio, window=window, generator=generator,
                                                  **self.kw)
        return t.to(device), mask.to(device), {"window": window}


@OBJECTIVES.register_module("fopp")
class FoPPObjective:
    """AR-Diffusion FoPP levels over the K noisy chunks of a full window (``sample_fopp_training_levels``)."""

    def __init__(self, *, scheduler, vae, num_noisy_chunks: int = 6, granularity: str = "chunk",
                 keep_x0: bool = True):
        num_steps, chunk_size = scheduler.num_sampling_steps, vae.latents_per_chunk
        self.scheduler, self.vae = scheduler, vae
        self.kw = dict(num_steps=num_steps, num_noisy_chunks=num_noisy_chunks, chunk_size=chunk_size,
                       granularity=granularity, keep_x0=keep_x0)
        self.full_latents = (num_noisy_chunks + int(keep_x0)) * chunk_size

    def sample(self, batch_size, num_latents, *, height, width, generator, device):
        if num_latents < self.full_latents:
            raise _too_short(num_latents, self.full_latents, "the FoPP window")
        ratio = _full_window_ratio(self, height, width, batch_size, "cpu")
        t, mask, _ = sample_fopp_training_levels(batch_size, ratio=ratio, generator=generator, **self.kw)
        return t.to(device), mask.to(device), {"window": "fopp"}
