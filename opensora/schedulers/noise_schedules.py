"""Inference noise-level schedules as data: every builder returns a :class:`ChunkSchedule`.

Notation (method sections 1-5; units in remaining Euler steps, mapped to levels at the end):

======  =====================================================================================
C       latents per chunk (``chunk_size``)
K       noisy chunks in a full PA window (``num_noisy_chunks``); the window is K + 1 chunks with context
S       sampling steps; every latent gets exactly S Euler steps (``num_steps``)
m       S / K, steps per round: the window shifts by one chunk every m steps (needs K | S)
s       AR-Diffusion timestep difference between neighbouring chunks (``step_difference``)
N       chunks in the long video, reference chunks included (``num_chunks``)
R       leading reference chunks (``num_ref_chunks``)
k       a chunk's remaining steps: k = S pure noise, k = 0 clean; k[i, c] is chunk c before iteration i
sigma   level of k: ``transformed_levels(S, r)[k]`` = 1000 r u / (1 + (r - 1) u), u = k / S
======  =====================================================================================

Every builder first makes the integer matrix k (I + 1, N), then maps it through sigma once, so every
latent's column is exactly the S-step schedule sigma(S), ..., sigma(1), 0, shifted in phase.
"""
from __future__ import annotations

import math

import torch

from .plan import ChunkSchedule
from .rectified_flow import transformed_levels

GRANULARITIES = ("chunk", "frame")


def steps_per_round(num_steps: int, num_noisy_chunks: int) -> int:
    """m = S / K; raises ValueError unless K divides S (each chunk must get exactly S steps)."""
    if num_noisy_chunks < 1 or num_steps < 1 or num_steps % num_noisy_chunks:
        hint = max(1, num_noisy_chunks) * max(1, math.ceil(num_steps / max(1, num_noisy_chunks)))
        raise ValueError(f"num_steps={num_steps} must be a positive multiple of num_noisy_chunks={num_noisy_chunks}:"
                         f" PA shifts the window by one chunk every m = S / K steps, so K must divide S "
                         f"(e.g. num_steps={hint})")
    return num_steps // num_noisy_chunks


def schedule_from_steps(k: torch.Tensor, *, num_steps: int, ratio: float, chunk_size: int,
                        **fields) -> ChunkSchedule:
    """Map remaining-step indices k (I + 1, N) to levels sigma(k) and wrap them in a ChunkSchedule."""
    table = transformed_levels(num_steps, float(ratio))
    meta = {"num_steps": num_steps, "ratio": float(ratio), **fields.pop("meta", {})}
    return ChunkSchedule(levels=table[k], chunk_size=chunk_size, meta=meta, **fields)


def _check_counts(num_chunks: int, num_ref_chunks: int, chunk_size: int) -> None:
    if chunk_size < 1 or num_ref_chunks < 0 or num_chunks <= num_ref_chunks:
        raise ValueError(f"num_chunks={num_chunks}, num_ref_chunks={num_ref_chunks}, chunk_size={chunk_size}: "
                         f"need chunk_size >= 1 and at least one chunk to generate (num_chunks > num_ref_chunks)")


def pa_step_matrix(num_chunks: int, *, num_steps: int, num_noisy_chunks: int, num_ref_chunks: int = 1,
                   fixed_start: bool = False) -> torch.Tensor:
    """Remaining steps of PA progressive sampling (closed form), (I + 1, N) int64.

    1. Generated chunk c (c >= R) starts m * (c - R) iterations after the first one:
       k[i, c] = clamp(S + m (c - R) - i, 0, S); I = S + m (N - 1 - R) iterations.
    2. Reference start (section 3): reference chunks are clean, k[:, c < R] = 0.  Text-only start (section 4):
       R = 0.  Fixed-length start (section 3 end, needs R >= K): the same formula also covers the reference
       chunks, so chunk R - K is the clean context and chunks R - K + 1 .. R - 1 start forward-noised at the
       stage-0 levels m, 2m, ..., S - m of slots 0..K - 2; the loop is in steady state from iteration 0.
    """
    m = steps_per_round(num_steps, num_noisy_chunks)
    _check_counts(num_chunks, num_ref_chunks, 1)
    if fixed_start and num_ref_chunks < num_noisy_chunks:
        raise ValueError(f"fixed_start needs num_ref_chunks >= num_noisy_chunks = {num_noisy_chunks} "
                         f"(K reference chunks: 1 clean context + K - 1 forward-noised), got {num_ref_chunks}")
    iters = num_steps + m * (num_chunks - 1 - num_ref_chunks)
    i = torch.arange(iters + 1)[:, None]
    c = torch.arange(num_chunks)[None, :]
    k = (num_steps + m * (c - num_ref_chunks) - i).clamp(0, num_steps)
    if not fixed_start:
        k[:, :num_ref_chunks] = 0
    return k


def pa_inference_schedule(num_chunks: int, *, ratio: float, chunk_size: int = 5, num_noisy_chunks: int = 6,
                          num_steps: int = 30, num_ref_chunks: int = 1, keep_x0: bool = True,
                          fixed_start: bool = False) -> ChunkSchedule:
    """PA-VDM progressive sampling (method sections 2-4) as a ChunkSchedule.

    Args:
        num_chunks: N, all chunks of the video including the R reference chunks (60 s: 85).
        ratio: r of the full window (``timestep_ratio(240, 426, 119, bf16=True)`` = 3.6875 for the reference).
        num_ref_chunks: R >= 1 extends a reference clip; 0 starts from text only (no context until the
            first chunk is emitted).  keep_x0: one clean context chunk in front of the window (else none).
        fixed_start: start in steady state from K reference chunks (see ``pa_step_matrix``).
    Returns:
        ChunkSchedule with S + m (N - 1 - R) iterations: 445 for the 60-s reference run, 450 text-only,
        420 with the fixed-length start from K = 6 reference chunks.
    """
    _check_counts(num_chunks, num_ref_chunks, chunk_size)
    k = pa_step_matrix(num_chunks, num_steps=num_steps, num_noisy_chunks=num_noisy_chunks,
                       num_ref_chunks=num_ref_chunks, fixed_start=fixed_start)
    meta = {"kind": "pa", "num_noisy_chunks": num_noisy_chunks, "steps_per_round": num_steps // num_noisy_chunks,
            "fixed_start": fixed_start}
    return schedule_from_steps(k, num_steps=num_steps, ratio=ratio, chunk_size=chunk_size,
                               num_ref_chunks=num_ref_chunks, num_context=int(keep_x0), name="pa", meta=meta)


def ad_step_matrix(num_units: int, *, num_steps: int, step_difference: int, num_ref_units: int = 0) -> torch.Tensor:
    """AR-Diffusion's AD timestep matrix (Eq. 5, ``generate_timestep_matrix``), (I + 1, n) int64.

    1. Reference units start clean (k = 0), the others at k = S.
    2. Each iteration, for units u in order: if u is the first unit or its predecessor was clean *before*
       the iteration, k_u <- max(k_u - 1, 0); else k_u <- min(k_{u-1}(new) + s, S).
    3. Stop when every k is 0: S + (n - 1) s iterations for n generated units and 0 <= s <= S, n S for s >= S.
    """
    if num_steps < 1 or step_difference < 0:
        raise ValueError(f"num_steps={num_steps}, step_difference={step_difference}: need S >= 1 and s >= 0")
    k = [0] * num_ref_units + [num_steps] * (num_units - num_ref_units)
    rows = [list(k)]
    while any(k):
        old = list(k)
        for u in range(num_ref_units, num_units):
            if u == 0 or old[u - 1] == 0:
                k[u] = max(k[u] - 1, 0)
            else:
                k[u] = min(k[u - 1] + step_difference, num_steps)
        rows.append(list(k))
    return torch.tensor(rows, dtype=torch.int64)


def _max_active(k: torch.Tensor) -> int:
    return int((k[:-1] != k[1:]).sum(dim=1).max())


def ad_inference_schedule(num_chunks: int, *, ratio: float, step_difference: int, chunk_size: int = 5,
                          num_steps: int = 30, num_ref_chunks: int = 0, num_context: int = 1,
                          granularity: str = "chunk", max_active_chunks: int | None = None) -> ChunkSchedule:
    """AR-Diffusion AD inference (method section 7) as a ChunkSchedule.

    Args:
        num_chunks: N chunks of C latents, reference included.  step_difference: s; 0 = synchronous,
            >= S = fully autoregressive; PA is s = m = S / K.
        granularity: "chunk" (all C latents of a chunk share k) or "frame" (every latent is its own AD unit;
            the schedule then has chunk_size 1, N * C units, R * C reference units and C * num_context context).
        max_active_chunks: window limit (PA: K); raises ValueError if more chunks would be active at once.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity={granularity!r}; use one of {GRANULARITIES}")
    _check_counts(num_chunks, num_ref_chunks, chunk_size)
    unit = 1 if granularity == "frame" else chunk_size
    per = chunk_size // unit
    k = ad_step_matrix(num_chunks * per, num_steps=num_steps, step_difference=step_difference,
                       num_ref_units=num_ref_chunks * per)
    active_latents = _max_active(k) * unit
    if max_active_chunks is not None and active_latents > max_active_chunks * chunk_size:
        need = math.ceil(num_steps / max_active_chunks)
        raise ValueError(f"AD with step_difference={step_difference}, num_steps={num_steps} keeps "
                         f"{active_latents / chunk_size:g} chunks active at once, more than max_active_chunks="
                         f"{max_active_chunks} (about ceil(S / s) are active); use step_difference >= {need} "
                         f"at chunk granularity, or a larger window")
    meta = {"kind": "ad", "step_difference": step_difference, "granularity": granularity}
    return schedule_from_steps(k, num_steps=num_steps, ratio=ratio, chunk_size=unit,
                               num_ref_chunks=num_ref_chunks * per, num_context=num_context * per,
                               name=f"ad-s{step_difference}", meta=meta)


def replacement_step_matrix(num_chunks: int, *, num_steps: int, new_chunks: int, first_clip_chunks: int,
                            num_ref_chunks: int) -> torch.Tensor:
    """Clip-by-clip synchronous sampling: clip j's chunks get k[i, c] = clamp((j + 1) S - i, 0, S)."""
    clip = torch.zeros(num_chunks, dtype=torch.int64)
    gen = torch.arange(num_chunks - num_ref_chunks)
    shifted = (gen - first_clip_chunks).clamp(min=-1)
    clip[num_ref_chunks:] = torch.where(shifted < 0, 0, shifted.div(new_chunks, rounding_mode="floor") + 1)
    iters = num_steps * (int(clip[-1]) + 1)
    i = torch.arange(iters + 1)[:, None]
    k = ((clip[None, :] + 1) * num_steps - i).clamp(0, num_steps)
    k[:, :num_ref_chunks] = 0
    return k


def replacement_schedule(num_chunks: int, *, ratio: float, clip_latents: int = 15, context_latents: int = 5,
                         chunk_size: int = 5, num_steps: int = 30, num_ref_chunks: int = 0,
                         context_mode: str = "clean") -> ChunkSchedule:
    """Replacement baselines (method section 5) as a ChunkSchedule.

    ======  ===========================================================================
    W       latents per clip (``clip_latents``; Open-Sora's 51 frames = 15)
    E       conditioning latents at the front of each clip (``context_latents``)
    ======  ===========================================================================

    Every clip adds (W - E) / C new chunks, sampled synchronously in S steps with the clip's own ratio
    (2.421875 for 51 frames in bf16).  Without a reference (R = 0) the first clip generates W / C chunks.
    ``context_mode="clean"`` is RN (Open-Sora ``loop``: context at t = 0, never modified); ``"renoise"`` is RW
    (context forward-noised to the clip's level with fresh noise every step).  60 s text-only with W = 15,
    E = 5: 42 clips, 1260 calls; W = 35, E = 5 after one reference chunk: 14 clips, 420 calls.
    """
    _check_counts(num_chunks, num_ref_chunks, chunk_size)
    if clip_latents % chunk_size or context_latents % chunk_size or not 0 <= context_latents < clip_latents:
        raise ValueError(f"clip_latents={clip_latents}, context_latents={context_latents}: both must be multiples "
                         f"of chunk_size={chunk_size} with 0 <= context_latents < clip_latents")
    new = (clip_latents - context_latents) // chunk_size
    first = clip_latents // chunk_size if num_ref_chunks == 0 else new
    k = replacement_step_matrix(num_chunks, num_steps=num_steps, new_chunks=new, first_clip_chunks=first,
                                num_ref_chunks=num_ref_chunks)
    meta = {"kind": "rn" if context_mode == "clean" else "rw", "clip_latents": clip_latents,
            "context_latents": context_latents}
    return schedule_from_steps(k, num_steps=num_steps, ratio=ratio, chunk_size=chunk_size,
                               num_ref_chunks=num_ref_chunks, num_context=context_latents // chunk_size,
                               context_mode=context_mode, name=meta["kind"], meta=meta)
