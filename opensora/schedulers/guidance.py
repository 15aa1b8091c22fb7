"""Classifier-free guidance as a wrapper around the model (not part of the scheduler).

======  ========================================================================
g       guidance scale (Open-Sora v1.2 inference: 7.0)
batch   [cond; uncond]: latents and timesteps doubled, captions [y; y_null]
v       v_u + g (v_c - v_u), on channels 0..C-1 of the model output (2C with pred_sigma)
======  ========================================================================
"""
from __future__ import annotations

from typing import Callable

import torch


def cfg_velocity(model: Callable, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, y_null: torch.Tensor,
                 guidance_scale: float, **model_kwargs) -> torch.Tensor:
    """One guided velocity from a single model call on the batch [cond; uncond].

    Args:
        model: (x (2B, C, T, H, W), t (2B, T), y=(2B, ...), **kw) -> (2B, >= C, T, H, W).
        x: (B, C, T, H, W).  t: (B, T).  y, y_null: caption states for B samples each (cond first).
        model_kwargs: passed unchanged (e.g. the (B, L) caption mask, which STDiT3 repeats for the null half).
    Returns:
        v: (B, C, T, H, W).
    """
    if y.shape[0] != x.shape[0] or y_null.shape[0] != x.shape[0]:
        raise ValueError(f"y {tuple(y.shape)} and y_null {tuple(y_null.shape)} must have batch {x.shape[0]} "
                         f"like x; pass the null caption repeated per sample")
    out = model(torch.cat([x, x]), torch.cat([t, t]), y=torch.cat([y, y_null]), **model_kwargs)
    v_c, v_u = out[:, : x.shape[1]].chunk(2, dim=0)
    return v_u + guidance_scale * (v_c - v_u)


def cfg_denoiser(model: Callable, y: torch.Tensor, y_null: torch.Tensor, guidance_scale: float = 7.0,
                 **model_kwargs) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A ``denoise(x, t) -> v`` closure with fixed captions, for ``RFlow.sample`` and the window sampler."""

    def denoise(x: torch.Tensor, t: torch.Tensor, **extra) -> torch.Tensor:
        return cfg_velocity(model, x, t, y, y_null, guidance_scale, **model_kwargs, **extra)

    return denoise
