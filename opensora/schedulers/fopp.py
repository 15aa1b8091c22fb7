"""AR-Diffusion's FoPP training timestep sampler (method section 7), in log space.

======  ================================================================================================
F       units ("frames") of the window: noisy chunks (chunk granularity) or noisy latents (frame)
T       levels 1..T; in our stack T = S and level k is the remaining-step index, mapped through sigma
c       a composition (t_1, ..., t_F), non-decreasing: earlier units are at least as clean
d^e     d^e(i, j) = # non-decreasing prefixes (t_1..t_i = j), values >= 1 = C(i + j - 2, i - 1);
        d^e(1, .) = 1, d^e(i, j) = d^e(i, j - 1) + d^e(i - 1, j) = sum_{j' <= j} d^e(i - 1, j')
d^s     d^s(i, j) = # non-decreasing suffixes (t_i = j..t_F), values <= T = C(T - j + F - i, F - i);
        d^s(F, .) = 1, d^s(i, j) = d^s(i, j + 1) + d^s(i + 1, j) = sum_{j' >= j} d^s(i + 1, j')
P(c)    (1 / (F T)) sum_f 1 / (d^e(f, c_f) d^s(f, c_f))
======  ================================================================================================

Counts overflow int64 quickly (C(1034, 34) ~ 6e63), so they are kept as float64 logs (``logcumsumexp``).
"""
from __future__ import annotations

import torch

from .noise_schedules import GRANULARITIES
from .rectified_flow import transformed_levels


def fopp_log_counts(num_frames: int, num_levels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """log d^e and log d^s as (F, T) float64; row i-1, column j-1 hold unit i, level j."""
    if num_frames < 1 or num_levels < 1:
        raise ValueError(f"num_frames={num_frames}, num_levels={num_levels}: both must be >= 1")
    log_de = torch.zeros(num_frames, num_levels, dtype=torch.float64)
    log_ds = torch.zeros(num_frames, num_levels, dtype=torch.float64)
    for i in range(1, num_frames):
        log_de[i] = torch.logcumsumexp(log_de[i - 1], dim=0)
        log_ds[num_frames - 1 - i] = torch.logcumsumexp(log_ds[num_frames - i].flip(0), dim=0).flip(0)
    return log_de, log_ds


def _draw(logits: torch.Tensor, generator) -> torch.Tensor:
    """One categorical draw per row of (B, T) log-weights (-inf = excluded), by inverse CDF; 0-based."""
    cdf = torch.softmax(logits, dim=1).cumsum(dim=1)
    u = torch.rand(logits.shape[0], 1, generator=generator, dtype=torch.float64) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).clamp(max=logits.shape[1] - 1).squeeze(1)


def fopp_complete(frame: torch.Tensor, level: torch.Tensor, num_frames: int, num_levels: int, *,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Complete anchored compositions uniformly: (B, F) int64 with ``out[b, frame[b]] = level[b]``.

    1. Backward, i = f-1..1: P(t_i = k | t_{i+1} = K) = d^e(i, k) / d^e(i + 1, K), k in 1..K.
    2. Forward, i = f+1..F: P(t_i = k | t_{i-1} = K) = d^s(i, k) / d^s(i - 1, K), k in K..T.
    Given (f, t_f), every non-decreasing composition with that value at f is equally likely.

    Args:
        frame: (B,) 0-based anchor units.  level: (B,) anchor levels in 1..T.
    """
    log_de, log_ds = fopp_log_counts(num_frames, num_levels)
    levels = torch.arange(1, num_levels + 1)
    batch = frame.shape[0]
    out = torch.zeros(batch, num_frames, dtype=torch.int64)
    out[torch.arange(batch), frame] = level
    for i in range(num_frames - 2, -1, -1):
        todo = i < frame
        upper = torch.where(todo, out[:, i + 1], num_levels)[:, None]
        draw = _draw(log_de[i].masked_fill(levels > upper, float("-inf")), generator) + 1
        out[:, i] = torch.where(todo, draw, out[:, i])
    for i in range(1, num_frames):
        todo = i > frame
        lower = torch.where(todo, out[:, i - 1], 1)[:, None]
        draw = _draw(log_ds[i].masked_fill(levels < lower, float("-inf")), generator) + 1
        out[:, i] = torch.where(todo, draw, out[:, i])
    return out


def sample_fopp_compositions(batch_size: int, num_frames: int, num_levels: int, *,
                             generator: torch.Generator | None = None) -> torch.Tensor:
    """FoPP compositions, (B, F) int64 with values in 1..T, non-decreasing along F.

    1. f ~ U{1..F}, t_f ~ U{1..T} per sample.
    2. The rest by ``fopp_complete``; P(c) = (1 / (F T)) sum_f 1 / (d^e(f, c_f) d^s(f, c_f)).
    """
    frame = torch.randint(0, num_frames, (batch_size,), generator=generator)
    level = torch.randint(1, num_levels + 1, (batch_size,), generator=generator)
    return fopp_complete(frame, level, num_frames, num_levels, generator=generator)


def sample_fopp_training_levels(batch_size: int, *, num_steps: int = 30, num_noisy_chunks: int = 6,
                                chunk_size: int = 5, ratio=1.0, granularity: str = "chunk",
                                keep_x0: bool = True, generator: torch.Generator | None = None):
    """Per-latent training t for a full window with FoPP levels (same contract as the PA sampler).

    1. Units: the K noisy chunks ("chunk": a chunk's C latents share a level) or the K C noisy latents ("frame").
    2. Levels k in 1..S from ``sample_fopp_compositions``, t = sigma(k) with ``ratio`` (float or (B, 1)).
    3. With keep_x0, a clean context chunk (t = 0, loss_mask False) is prepended.

    Returns: t (B, T) float32, loss_mask (B, T) bool, info {"steps": (B, units) int64, "num_latents"}.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity={granularity!r}; use one of {GRANULARITIES}")
    per = 1 if granularity == "chunk" else chunk_size
    steps = sample_fopp_compositions(batch_size, num_noisy_chunks * per, num_steps, generator=generator)
    ratio = torch.as_tensor(ratio, dtype=torch.float64)
    table = transformed_levels(num_steps, ratio.reshape(-1, 1).expand(batch_size, 1))
    noisy = table.gather(1, steps).repeat_interleave(chunk_size // per, dim=1)
    ctx = int(keep_x0) * chunk_size
    t = torch.cat([torch.zeros(batch_size, ctx, dtype=torch.float64), noisy], dim=1).float()
    loss_mask = torch.arange(t.shape[1])[None, :].expand(batch_size, -1) >= ctx
    return t, loss_mask, {"steps": steps, "num_latents": t.shape[1]}
