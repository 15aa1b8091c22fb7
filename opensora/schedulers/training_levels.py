"""PA-VDM training levels (method section 6): the per-latent t of every window type inference produces.

======  ==========================================================================================
K       noisy chunks in a full window (``num_noisy_chunks``); C latents per chunk (``chunk_size``)
S, m    sampling steps and m = S / K steps per round (K | S)
n       noisy chunks of the sampled window; slots j are positions in the full window (0 = oldest)
stage   s ~ U{0..m-1} per sample; slot j has k = m (j + 1) - s remaining steps, raw level 1000 k / S
delta   linear-shift: one eps ~ N(0, 1) per sample, delta = eps * scale * 1000 / S on all noisy latents;
        linear-variance: one eps per noisy latent; both clamp the raw level to [0, 999]
sigma   the transform with the *window-independent* ratio r (the same r as at inference)
======  ==========================================================================================

Window types (one per batch: temporal attention has no padding mask, so all samples share a length):

==============  =======  ===========  ===================  ===========
type            context  n            slots                latents
==============  =======  ===========  ===================  ===========
steady          keep_x0  K            0..K-1               C (K + ctx)
init:n          keep_x0  1..K-1       K-n..K-1 (noisiest)  C (n + ctx)
term:n          keep_x0  1..K-1       0..n-1 (cleanest)    C (n + ctx)
t2v:n           no       1..K         K-n..K-1             C n
==============  =======  ===========  ===================  ===========

``t2v`` exists only with keep_x0 (without context, ``init:n`` already is the text-to-video start).

The replacement baselines' windows (``replacement_window_types``; never drawn unless ``window_probs`` names
them) put all noisy chunks at one level, raw 1000 k / S with k ~ U{1..S} per sample (the levels of a clip
sampled synchronously in S steps), then the same shift:

==============  =======  ===========  ====================================================
type            context  n            inference
==============  =======  ===========  ====================================================
rn:K            1        K            RN: a clean context chunk + K new chunks at one level
rw:K+1          no       K + 1        RW (context re-noised to the clip's level), RN's first clip
==============  =======  ===========  ====================================================

Training some of them lets one set of weights serve PA and a fair RN / RW comparison.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .noise_schedules import steps_per_round
from .rectified_flow import NUM_TIMESTEPS, timestep_transform

SHIFTS = ("linear", "linear-shift", "linear-variance")
WINDOW_KINDS = ("steady", "init", "term", "t2v", "rn", "rw")
REPLACEMENT_KINDS = ("rn", "rw")


@dataclass(frozen=True)
class PAWindow:
    """One training window type: ``kind`` in WINDOW_KINDS, ``num_noisy`` chunks, ``context`` chunks (0/1)."""

    kind: str
    num_noisy: int
    context: int

    @property
    def name(self) -> str:
        return self.kind if self.kind == "steady" else f"{self.kind}:{self.num_noisy}"

    @property
    def num_chunks(self) -> int:
        return self.num_noisy + self.context

    def slots(self, num_noisy_chunks: int) -> list[int]:
        """Full-window slots of the noisy chunks, oldest (cleanest) first (rn / rw: 0..n-1, all one level)."""
        if self.kind in ("term", *REPLACEMENT_KINDS):
            return list(range(self.num_noisy))
        return list(range(num_noisy_chunks - self.num_noisy, num_noisy_chunks))


def pa_window_types(num_noisy_chunks: int = 6, *, keep_x0: bool = True) -> list[PAWindow]:
    """All window types that PA inference produces (table in the module docstring), steady first."""
    ctx, k = int(keep_x0), num_noisy_chunks
    types = [PAWindow("steady", k, ctx)]
    types += [PAWindow("init", n, ctx) for n in range(1, k)]
    types += [PAWindow("term", n, ctx) for n in range(1, k)]
    if keep_x0:
        types += [PAWindow("t2v", n, 0) for n in range(1, k + 1)]
    return types


def replacement_window_types(num_noisy_chunks: int = 6) -> list[PAWindow]:
    """The replacement baselines' training windows (module docstring): "rn:K" and "rw:K+1"."""
    return [PAWindow("rn", num_noisy_chunks, 1), PAWindow("rw", num_noisy_chunks + 1, 0)]


def pa_window(name: str, num_noisy_chunks: int = 6, *, keep_x0: bool = True) -> PAWindow:
    """The window type called ``name`` ("steady", "init:3", "term:1", "t2v:6", "rn:6", "rw:7")."""
    types = {w.name: w for w in pa_window_types(num_noisy_chunks, keep_x0=keep_x0)
             + replacement_window_types(num_noisy_chunks)}
    if name not in types:
        raise ValueError(f"unknown window {name!r} for K={num_noisy_chunks}, keep_x0={keep_x0}; "
                         f"valid: {sorted(types)}")
    return types[name]


def pa_window_latents(window, *, num_noisy_chunks: int = 6, chunk_size: int = 5, keep_x0: bool = True) -> int:
    """Latents a window needs (a PAWindow or its name); frames follow from the VAE (17 per 5-latent chunk)."""
    w = window if isinstance(window, PAWindow) else pa_window(window, num_noisy_chunks, keep_x0=keep_x0)
    return w.num_chunks * chunk_size


def pa_window_probs(num_noisy_chunks: int = 6, *, keep_x0: bool = True,
                    window_probs: dict | None = None) -> dict[str, float]:
    """Normalised sampling probabilities per window name.

    Default: half the mass on "steady", the rest uniform over the partial types.  ``window_probs`` maps
    window names ("init:3") or kinds ("init", spread uniformly over that kind's types) to weights.  The
    replacement windows ("rn", "rw") appear only when ``window_probs`` names them.
    """
    types = pa_window_types(num_noisy_chunks, keep_x0=keep_x0)
    named = {key.split(":")[0] for key in (window_probs or {})}
    types += [w for w in replacement_window_types(num_noisy_chunks) if w.kind in named]
    if window_probs is None:
        partial = len(types) - 1
        window_probs = {"steady": 0.5 if partial else 1.0,
                        **{w.name: 0.5 / partial for w in types[1:]}}
    probs = dict.fromkeys((w.name for w in types), 0.0)
    for key, weight in window_probs.items():
        members = [w.name for w in types if key in (w.name, w.kind)]
        if not members or weight < 0:
            raise ValueError(f"window_probs[{key!r}] = {weight}: keys must be window names {sorted(probs)} or "
                             f"kinds {WINDOW_KINDS} present for keep_x0={keep_x0}, weights >= 0")
        for name in members:
            probs[name] += float(weight) / len(members)
    total = sum(probs.values())
    if total <= 0:
        raise ValueError(f"window_probs={window_probs} gives no mass to any window type")
    return {name: p / total for name, p in probs.items()}


def sample_pa_window(num_noisy_chunks: int = 6, *, keep_x0: bool = True, window_probs: dict | None = None,
                     generator: torch.Generator | None = None) -> PAWindow:
    """Draw one window type (for a whole batch) from ``pa_window_probs``."""
    probs = pa_window_probs(num_noisy_chunks, keep_x0=keep_x0, window_probs=window_probs)
    names = list(probs)
    idx = int(torch.multinomial(torch.tensor([probs[n] for n in names], dtype=torch.float64), 1,
                                generator=generator))
    return pa_window(names[idx], num_noisy_chunks, keep_x0=keep_x0)


def pa_raw_chunk_levels(window: PAWindow, stage: torch.Tensor, *, num_steps: int,
                        num_noisy_chunks: int) -> torch.Tensor:
    """Raw levels 1000 (m (j + 1) - s) / S of the window's noisy chunks, (B, n) float64 (s = ``stage`` (B,))."""
    m = steps_per_round(num_steps, num_noisy_chunks)
    slots = torch.tensor(window.slots(num_noisy_chunks), dtype=torch.float64)
    k = m * (slots[None, :] + 1) - stage.to(torch.float64)[:, None]
    return k * (NUM_TIMESTEPS / num_steps)


def _perturb(raw: torch.Tensor, shift: str, scale: float, num_steps: int, generator) -> tuple:
    """Apply the shift pattern to raw per-latent levels (B, L); returns (levels, delta)."""
    b, n = raw.shape
    std = scale * NUM_TIMESTEPS / num_steps
    if shift == "linear":
        return raw, torch.zeros_like(raw)
    shape = (b, 1) if shift == "linear-shift" else (b, n)
    delta = torch.randn(shape, generator=generator, dtype=torch.float64) * std
    return (raw + delta).clamp(0, NUM_TIMESTEPS - 1), delta


def sample_pa_training_levels(batch_size: int, *, num_steps: int = 30, num_noisy_chunks: int = 6,
                              chunk_size: int = 5, ratio=1.0, shift: str = "linear-shift",
                              linear_shift_scale: float = 0.4, linear_variance_scale: float = 0.1,
                              window_probs: dict | None = None, window=None, keep_x0: bool = True,
                              generator: torch.Generator | None = None):
    """Per-latent training timesteps for one PA window type (method section 6).

    1. window: the given one (a PAWindow or name, e.g. from a length bucket) or one drawn per batch.
    2. stage s ~ U{0..m-1} per sample; raw chunk levels 1000 (m (j + 1) - s) / S on the window's slots,
       repeated over the C latents of each chunk (rn / rw windows: k ~ U{1..S} per sample, stored as "stage",
       raw level 1000 k / S on every noisy latent).
    3. shift ("linear": none; "linear-shift": one delta per sample, std linear_shift_scale * 1000 / S;
       "linear-variance": one delta per latent, std linear_variance_scale * 1000 / S), clamp to [0, 999].
    4. t = sigma(raw) with ``ratio`` (float or (B, 1)); the context chunk gets t = 0 and loss_mask False.

    Returns:
        t: (B, T) float32 in [0, 1000]; loss_mask: (B, T) bool; info: {"window": PAWindow, "name",
        "num_latents", "num_chunks", "slots", "stage": (B,) int64, "raw": (B, T_noisy) float64 raw levels
        after the shift, "shift": delta in raw units before clamping}.
    """
    if shift not in SHIFTS:
        raise ValueError(f"shift={shift!r}; use one of {SHIFTS}")
    m = steps_per_round(num_steps, num_noisy_chunks)
    if window is None:
        window = sample_pa_window(num_noisy_chunks, keep_x0=keep_x0, window_probs=window_probs, generator=generator)
    elif not isinstance(window, PAWindow):
        window = pa_window(window, num_noisy_chunks, keep_x0=keep_x0)
    if window.kind in REPLACEMENT_KINDS:  # one level k / S for all noisy chunks, k ~ U{1..S}
        stage = torch.randint(1, num_steps + 1, (batch_size,), generator=generator)
        raw = (stage.to(torch.float64) * (NUM_TIMESTEPS / num_steps))[:, None].repeat(1, window.num_noisy)
    else:
        stage = torch.randint(0, m, (batch_size,), generator=generator)
        raw = pa_raw_chunk_levels(window, stage, num_steps=num_steps, num_noisy_chunks=num_noisy_chunks)
    raw = raw.repeat_interleave(chunk_size, dim=1)
    scale = linear_shift_scale if shift == "linear-shift" else linear_variance_scale
    raw, delta = _perturb(raw, shift, scale, num_steps, generator)
    ratio = torch.as_tensor(ratio, dtype=torch.float64)
    noisy = timestep_transform(raw, ratio.reshape(-1, 1) if ratio.dim() else ratio)
    ctx = window.context * chunk_size
    t = torch.cat([torch.zeros(batch_size, ctx, dtype=torch.float64), noisy], dim=1).float()
    loss_mask = torch.arange(t.shape[1])[None, :].expand(batch_size, -1) >= ctx
    info = {"window": window, "name": window.name, "num_latents": t.shape[1], "num_chunks": window.num_chunks,
            "slots": window.slots(num_noisy_chunks), "stage": stage, "raw": raw, "shift": delta}
    return t, loss_mask, info
