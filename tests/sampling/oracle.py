"""Shared helpers for sampler tests: the exact-velocity oracle model (pavdm-method.md section 8)."""
from __future__ import annotations

import torch

from opensora.sampling.conditioning import CaptionTable, make_denoiser
from opensora.sampling.sliding_window import SlidingWindowSampler

SENTINEL = float("nan")


class OracleModel:
    """Returns v* = (x0[idx] - z) / (t / 1000) where t > 0 and NaN where t = 0; ignores the caption.

    ``index`` is set by the denoise wrapper before each call; every call's (index, t) is logged.
    """

    def __init__(self, x0: torch.Tensor):
        self.x0, self.index, self.calls = x0, None, []

    def __call__(self, x, t, y=None, mask=None, **kwargs):
        self.calls.append((self.index.clone(), t[0].clone()))
        target = self.x0[:, :, self.index].repeat(x.shape[0] // self.x0.shape[0], 1, 1, 1, 1)
        tau = (t / 1000.0)[:, None, :, None, None].expand_as(x)
        v = torch.where(tau > 0, (target - x) / tau.clamp(min=1e-300), torch.full_like(x, SENTINEL))
        return torch.cat([v, torch.full_like(v, SENTINEL)], dim=1)  # 8 channels; 4..7 are ignored


def oracle_denoiser(model: OracleModel, batch: int, num_chunks: int, chunk_size: int, scale: float = 7.0):
    captions = CaptionTable(torch.zeros(1, 1, 2, 3, dtype=torch.float64), torch.ones(1, 2, dtype=torch.long),
                            torch.zeros(batch, num_chunks, dtype=torch.long), chunk_size)
    inner = make_denoiser(model, captions, torch.zeros(batch, 1, 2, 3, dtype=torch.float64), scale)

    def denoise(z, t, latent_index):
        model.index = latent_index
        return inner(z, t, latent_index)

    return denoise


def run_oracle(schedule, x0: torch.Tensor, seed: int = 0, scale: float = 7.0):
    """Run ``schedule`` with the oracle; returns (output latents (B, C, N, h, w), model, finished chunks)."""
    b, c = x0.shape[:2]
    model = OracleModel(x0)
    refs = x0[:, :, : schedule.num_ref_chunks * schedule.chunk_size] if schedule.num_ref_chunks else None
    gens = [torch.Generator().manual_seed(seed + i) for i in range(b)]
    sampler = SlidingWindowSampler(schedule, oracle_denoiser(model, b, schedule.num_chunks, schedule.chunk_size,
                                                             scale),
                                   latent_shape=(c, *x0.shape[3:]), generators=gens, reference=refs,
                                   dtype=torch.float64)
    finished = list(sampler)
    out = torch.cat([f.latents for f in finished], dim=2)
    return out, model, finished
