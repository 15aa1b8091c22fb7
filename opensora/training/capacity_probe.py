"""Capacity probe: how well a candidate diffusion model fits a handful of clips in a few hundred steps.

Choosing the size of a small model by training it for hours is slow; this probe trains it for S steps on the same
N one-chunk clips (every t drawn uniformly, latent MSE, AdamW, grad clip 1) and then measures its one-call x0
estimate at a few noise levels in **pixels** (mean |decode(x0_hat) - decode(x0)|, 0-255). A model that cannot
fit N clips will not fit a dataset. It found the embedded model's limit (issue 10): STDiT3 with hidden 128 on
tokens of 2 x 2 cells x 32 channels = 128 numbers left per-cell noise in its x0 estimate; hidden 256 did not.

    x_t = (1 - t) x0 + t eps,  v = model(x_t, 1000 t),  x0_hat = x_t + t v   (rectified flow, v = x0 - eps)
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch


@dataclass
class ProbeResult:
    """``loss``: mean training loss per ``report_every`` steps; ``x0_pixel_error``: {t: mean |pixel error|}."""

    num_params: int
    steps: int
    seconds: float
    loss: list = field(default_factory=list)
    x0_pixel_error: dict = field(default_factory=dict)


def _model_kwargs(text: dict, height: int, width: int, fps: float) -> dict:
    return dict(y=text["y"], mask=text["mask"], fps=fps, height=height, width=width)


def probe_capacity(model, vae, z0: torch.Tensor, text: dict, *, steps: int = 400, lr: float = 5e-4,
                   eval_levels=(0.3, 0.7, 0.95), eval_draws: int = 4, report_every: int = 100, seed: int = 0,
                   fps: float = 24.0, progress=None) -> ProbeResult:
    """Train ``model`` on latents ``z0`` (N, C, T, h, w) with captions ``text`` (the text encoder's ``encode``)
    for ``steps`` steps (0: measure the model as it is), then measure its x0 estimates (``eval_draws`` noise
    draws per level t in (0, 1], :func:`measure_x0_error`).

    ``progress``: optional callable(step, mean_loss) at every report. The model is left in eval mode.
    """
    if steps < 0 or report_every < 1:
        raise ValueError(f"steps must be >= 0 and report_every >= 1, got {steps} and {report_every}")
    if any(not 0 < t <= 1 for t in eval_levels):
        raise ValueError(f"eval_levels must lie in (0, 1], got {list(eval_levels)}")
    n, _, frames, h, w = z0.shape
    kw = _model_kwargs(text, h * vae.spatial_factor, w * vae.spatial_factor, fps)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    result = ProbeResult(num_params=sum(p.numel() for p in model.parameters()), steps=steps, seconds=0.0)
    start, window = time.perf_counter(), []
    model.train()
    for step in range(1, steps + 1):
        t = torch.rand(n, 1, generator=gen).expand(n, frames)
        eps = torch.randn(z0.shape, generator=gen)
        x_t = (1 - t[:, None, :, None, None]) * z0 + t[:, None, :, None, None] * eps
        v = model(x_t, t * 1000, **kw)[:, : z0.shape[1]]
        loss = (v - (z0 - eps)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        window.append(loss.item())
        if step % report_every == 0 or step == steps:
            result.loss.append(sum(window) / len(window))
            window = []
            if progress is not None:
                progress(step, result.loss[-1])
    result.seconds = time.perf_counter() - start
    model.eval()
    result.x0_pixel_error = measure_x0_error(model, vae, z0, text, levels=eval_levels, draws=eval_draws,
                                             generator=gen, fps=fps)
    return result


def measure_x0_error(model, vae, z0: torch.Tensor, text: dict, *, levels=(0.3, 0.7, 0.95), draws: int = 4,
                     generator: torch.Generator = None, fps: float = 24.0) -> dict:
    """{t: mean |decode(x0_hat) - decode(z0)| in pixels (0-255)} of ``model``'s one-call x0 estimate, averaged over
    ``draws`` noise draws per level t in (0, 1] (every frame at the same t). Works on any trained model: pass
    another clip's captions in ``text`` to measure how much the estimate depends on the text."""
    if any(not 0 < t <= 1 for t in levels):
        raise ValueError(f"levels must lie in (0, 1], got {list(levels)}")
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    n, _, frames, h, w = z0.shape
    kw = _model_kwargs(text, h * vae.spatial_factor, w * vae.spatial_factor, fps)
    out = {}
    with torch.no_grad():
        truth = vae.decode(z0, num_frames=None).float()
        for level in levels:
            errors = []
            for _ in range(draws):
                eps = torch.randn(z0.shape, generator=gen)
                x_t = (1 - level) * z0 + level * eps
                v = model(x_t, torch.full((n, frames), 1000.0 * level), **kw)[:, : z0.shape[1]]
                decoded = vae.decode(x_t + level * v, num_frames=None).float()
                errors.append(((decoded - truth).abs().mean() * 127.5).item())
            out[float(level)] = sum(errors) / len(errors)
    return out


def measure_continuation(model, vae, z0: torch.Tensor, text: dict, *, levels=(0.5, 0.9, 1.0), draws: int = 2,
                         generator: torch.Generator = None, fps: float = 24.0) -> dict:
    """How much a trained model uses a clean context chunk to continue a video (issue 10's chunk seam).

    ``z0`` (N, C, 2 n, h, w) holds two consecutive chunks of N clips. The first chunk is given clean (timestep 0,
    as PA's context chunk), the second is noised to level t, and the decoded one-call x0 estimate of the second
    chunk is compared with its truth: {t: {"right": error with the clip's own first chunk, "other": error with the
    next clip's first chunk (N >= 2)}}, mean |pixel error| (0-255) over ``draws`` noise draws. A model that
    continues the context has "right" far below "other" at t = 1; at low t the noisy chunk itself carries the
    answer."""
    if any(not 0 < t <= 1 for t in levels):
        raise ValueError(f"levels must lie in (0, 1], got {list(levels)}")
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    n, _, frames, h, w = z0.shape
    k = vae.latents_per_chunk
    if frames != 2 * k:
        raise ValueError(f"z0 must hold two chunks ({2 * k} latent frames), got {frames}; encode 2 x "
                         f"{vae.micro_frame_size} frames per clip")
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    kw = _model_kwargs(text, h * vae.spatial_factor, w * vae.spatial_factor, fps)
    contexts = {"right": z0[:, :, :k]}
    if n >= 2:
        contexts["other"] = torch.roll(z0[:, :, :k], shifts=-1, dims=0)
    out = {}
    with torch.no_grad():
        truth = vae.decode(z0[:, :, k:], num_frames=None).float()
        for level in levels:
            errors = {name: [] for name in contexts}
            for _ in range(draws):
                eps = torch.randn(z0[:, :, k:].shape, generator=gen)
                x_t = (1 - level) * z0[:, :, k:] + level * eps
                t = torch.cat([torch.zeros(n, k), torch.full((n, k), float(level))], dim=1)
                for name, context in contexts.items():
                    v = model(torch.cat([context, x_t], dim=2), t * 1000, **kw)[:, : z0.shape[1], k:]
                    decoded = vae.decode(x_t + level * v, num_frames=None).float()
                    errors[name].append(((decoded - truth).abs().mean() * 127.5).item())
            out[float(level)] = {name: sum(e) / len(e) for name, e in errors.items()}
    return out
