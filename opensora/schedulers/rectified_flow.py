"""Rectified flow with per-frame timesteps (Open-Sora v1.2 conventions), as stateless functions.

Convention (fixed here once; the Open-Sora v1.2 checkpoints require it):

=========  ==================================================================================
x0         clean latents, (B, C, T, H, W)
eps        standard Gaussian noise, same shape as x0
t          per-latent timestep, (B, T), in [0, 1000]; 1000 = pure noise, 0 = clean
x_t        (1 - t/1000) * x0 + (t/1000) * eps                                 (``add_noise``)
v          model prediction of the velocity x0 - eps, pointing towards data  (``target``)
Euler      x_{t'} = x_t + v * (t - t') / 1000, with t' < t                      (``euler_step``)
r          resolution / window-length shift ratio, (B, 1) (``timestep_ratio``)
sigma      transformed level 1000 * r * u / (1 + (r - 1) * u), u = t / 1000 (``timestep_transform``)
=========  ==================================================================================

A clip-level timestep is a constant row: ``t = t_clip[:, None].expand(B, T)``. There is no scalar path.
"""
from __future__ import annotations

from typing import Callable

import torch
from tqdm.auto import tqdm

from opensora.registry import SCHEDULERS

NUM_TIMESTEPS = 1000
SAMPLE_METHODS = ("uniform", "logit-normal")
LATENTS_PER_MICRO_CHUNK, FRAMES_PER_MICRO_CHUNK = 5, 17  # Open-Sora's length shift uses n = (F // 17) * 5


def _check_t(x: torch.Tensor, t: torch.Tensor, name: str = "t") -> None:
    if x.dim() != 5:
        raise ValueError(f"latents must be (B, C, T, H, W), got shape {tuple(x.shape)}")
    want = (x.shape[0], x.shape[2])
    if tuple(t.shape) != want:
        raise ValueError(f"{name} must be per latent frame with shape (B, T) = {want}, got {tuple(t.shape)}; "
                         f"build a clip-level timestep as a constant row, e.g. t[:, None].expand(B, T)")


def _coef(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """t / 1000 as (B, 1, T, 1, 1) in x's compute dtype (at least fp32, as Open-Sora: bf16 x -> fp32 result)."""
    dtype = torch.promote_types(x.dtype, torch.float32)
    return (t.to(x.device, torch.float64) / NUM_TIMESTEPS).to(dtype)[:, None, :, None, None]


def add_noise(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Forward process x_t = (1 - t/1000) x0 + (t/1000) eps, per latent frame.

    Args:
        x0, noise: (B, C, T, H, W).  t: (B, T) in [0, 1000]; t = 0 returns x0 exactly.
    """
    _check_t(x0, t)
    tau = _coef(t, x0)
    return (1 - tau) * x0 + tau * noise


def target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Training target, the velocity v = x0 - eps (points from noise to data)."""
    return x0 - noise


def euler_step(x: torch.Tensor, v: torch.Tensor, t: torch.Tensor, t_next: torch.Tensor) -> torch.Tensor:
    """One Euler step per latent: x + v * (t - t_next) / 1000.

    Args:
        x, v: (B, C, T, H, W).  t, t_next: (B, T), t_next <= t; a latent with t == t_next is unchanged
            (only if its v is finite: callers must not pass latents whose prediction is discarded).
    Returns:
        the updated latents in promote(x, v, fp32) dtype (bf16 latents become fp32, as in Open-Sora).
    """
    _check_t(x, t)
    _check_t(x, t_next, "t_next")
    dt = _coef(t.to(torch.float64) - t_next.to(torch.float64), v)
    return x + v * dt


def timestep_ratio(height, width, num_frames, *, scale: float = 1.0, bf16: bool = False) -> torch.Tensor:
    """Open-Sora's timestep-shift ratio r, one per sample.

    ====== =========================================================================
    H, W   pixel height and width of the window (not the latent size)
    F      pixel frames of the window; n = (F // 17) * 5 latent frames, n = 1 for images
    r      sqrt(H * W / 512^2) * sqrt(n) * scale
    ====== =========================================================================

    Args:
        height, width, num_frames: ints or (B,) tensors (broadcast against each other).
        scale: Open-Sora's ``transform_scale``.
        bf16: reproduce the reference, which computes r from bf16 meta tensors (every op rounded to bf16):
            3.6875 for 240x426 at 119 frames (3.6947 exact), 2.421875 at 51 frames (2.4187 exact).
    Returns:
        r: (B, 1) float64.
    """
    dtype = torch.bfloat16 if bf16 else torch.float64
    h, w, f = torch.broadcast_tensors(*(torch.as_tensor(v, dtype=torch.float64).reshape(-1)
                                        for v in (height, width, num_frames)))
    bad = (f != 1) & (f < FRAMES_PER_MICRO_CHUNK)
    if bool(bad.any()):
        raise ValueError(f"num_frames={f[bad].tolist()}: the length shift needs 1 (image) or >= 17 frames "
                         f"(n = (F // 17) * 5 would be 0); pass the window's pixel frame count")
    h, w, f = h.to(dtype), w.to(dtype), f.to(dtype)
    n = torch.where(f == 1, torch.ones_like(f), f // FRAMES_PER_MICRO_CHUNK * LATENTS_PER_MICRO_CHUNK)
    r = (h * w / 512**2).sqrt() * n.sqrt() * scale
    return r.to(torch.float64)[:, None]


def timestep_transform(t: torch.Tensor, ratio) -> torch.Tensor:
    """sigma(t) = 1000 * r * u / (1 + (r - 1) * u) with u = t / 1000; sigma(0) = 0, sigma(1000) = 1000.

    Args:
        t: raw timesteps, e.g. (B, T) or (S + 1,).  ratio: a float or a tensor broadcastable to t, e.g. (B, 1).
    """
    u = t / NUM_TIMESTEPS
    r = torch.as_tensor(ratio, dtype=torch.float64 if t.dtype == torch.float64 else torch.float32,
                        device=t.device)
    return (NUM_TIMESTEPS * r * u / (1 + (r - 1) * u)).to(t.dtype)


def transformed_levels(num_steps: int, ratio) -> torch.Tensor:
    """The S-step sampling schedule indexed by remaining steps k: ``levels[..., k] = sigma(1000 k / S)``.

    Args:
        num_steps: S >= 1.  ratio: a float (-> (S + 1,)) or a (B, 1) tensor (-> (B, S + 1)).
    Returns:
        float64 levels with levels[..., 0] = 0 and levels[..., S] = 1000 (exactly); Open-Sora's 30-step
        schedule for a window is ``levels.flip(-1)`` = sigma(S), ..., sigma(1), 0.
    """
    if int(num_steps) < 1:
        raise ValueError(f"num_steps={num_steps}: need at least 1 sampling step")
    raw = torch.arange(num_steps + 1, dtype=torch.float64) * (NUM_TIMESTEPS / num_steps)
    raw[-1] = NUM_TIMESTEPS  # exact end point, independent of float rounding of 1000 / S * S
    ratio = torch.as_tensor(ratio, dtype=torch.float64)
    levels = timestep_transform(raw if ratio.dim() == 0 else raw.expand(ratio.shape[0], -1), ratio).clone()
    # exact end points: sigma(1000) = 1000 r / r rounds to 1000.0000000000001 for some ratios (e.g. 32 x 32
    # pixels), and a chunk must enter the window at exactly 1000 (pure noise)
    levels[..., 0], levels[..., -1] = 0.0, float(NUM_TIMESTEPS)
    return levels


def sample_clip_timesteps(batch_size: int, num_latents: int, *, method: str = "uniform", loc: float = 0.0,
                          scale: float = 1.0, generator: torch.Generator | None = None,
                          device=None) -> torch.Tensor:
    """Open-Sora's clip-level training t as a constant (B, T) row (raw, before the transform).

    ``uniform``: t ~ U[0, 1000).  ``logit-normal``: t = 1000 * sigmoid(N(loc, scale^2)) (Open-Sora's
    ``LogisticNormal(loc, scale)`` first coordinate).
    """
    if method not in SAMPLE_METHODS:
        raise ValueError(f"method={method!r}; use one of {SAMPLE_METHODS}")
    if method == "uniform":
        u = torch.rand(batch_size, generator=generator, device=device)
    else:
        u = torch.sigmoid(loc + scale * torch.randn(batch_size, generator=generator, device=device))
    return (u * NUM_TIMESTEPS)[:, None].expand(batch_size, num_latents).contiguous()


def masked_mse(pred: torch.Tensor, tgt: torch.Tensor, loss_mask: torch.Tensor | None = None,
               latent_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample mean squared error over the unmasked latent frames.

    ====== ================================================================
    m      loss_mask (B, T) bool, True = counted (False on the context chunk)
    w      latent_weights (T,) >= 0, or None = 1 for every latent frame
    loss_b sum_{c, t: m[b, t], h, w} w_t (pred - tgt)^2 / (sum_t m[b, t] * C * H * W)
    ====== ================================================================

    Masked latents are excluded with ``where`` (not multiplied), so NaN/inf garbage there gives loss 0.
    A sample with no unmasked latent gets loss 0.
    Returns: (B,) per-sample losses.
    """
    b, c, t, h, w = pred.shape
    if loss_mask is None:
        loss_mask = torch.ones(b, t, dtype=torch.bool, device=pred.device)
    _check_t(pred, loss_mask, "loss_mask")
    keep = loss_mask.to(pred.device, torch.bool)[:, None, :, None, None]
    sq = torch.where(keep, (pred - tgt).float().pow(2), torch.zeros((), device=pred.device))
    if latent_weights is not None:
        sq = sq * latent_weights.to(sq.device, sq.dtype)[None, None, :, None, None]
    count = loss_mask.sum(dim=1).clamp(min=1) * (c * h * w)
    return sq.sum(dim=(1, 2, 3, 4)) / count


@SCHEDULERS.register_module("rflow")
class RFlow:
    """Stateless per-frame rectified flow with Open-Sora v1.2's name, defaults and conventions.

    Args:
        num_sampling_steps: S for ``sample`` / ``timesteps``.
        sample_method, loc, scale: Open-Sora's clip-level training t (``sample_t``).
        use_timestep_transform: apply ``timestep_transform`` with the window's ratio (Open-Sora v1.2: True).
        transform_scale: the ``scale`` factor in the ratio.
        bf16_ratio: compute r from bf16 meta values, as the reference does (see ``timestep_ratio``).

    CFG is not done here: wrap the model with ``opensora.schedulers.guidance.cfg_denoiser``.
    """

    def __init__(self, num_sampling_steps: int = 30, sample_method: str = "uniform", loc: float = 0.0,
                 scale: float = 1.0, use_timestep_transform: bool = True, transform_scale: float = 1.0,
                 bf16_ratio: bool = False):
        if sample_method not in SAMPLE_METHODS:
            raise ValueError(f"sample_method={sample_method!r}; use one of {SAMPLE_METHODS}")
        self.num_sampling_steps = int(num_sampling_steps)
        self.sample_method, self.loc, self.scale = sample_method, loc, scale
        self.use_timestep_transform = use_timestep_transform
        self.transform_scale = transform_scale
        self.bf16_ratio = bf16_ratio

    add_noise = staticmethod(add_noise)
    target = staticmethod(target)
    step = staticmethod(euler_step)

    def ratio(self, height, width, num_frames) -> torch.Tensor:
        """(B, 1) shift ratio of the window (pixel sizes and frame count); 1 without the transform."""
        r = timestep_ratio(height, width, num_frames, scale=self.transform_scale, bf16=self.bf16_ratio)
        return r if self.use_timestep_transform else torch.ones_like(r)

    def transform(self, t: torch.Tensor, ratio) -> torch.Tensor:
        return timestep_transform(t, ratio) if self.use_timestep_transform else t

    def timesteps(self, ratio=1.0, num_steps: int | None = None) -> torch.Tensor:
        """Synchronous schedule sigma(S), ..., sigma(1), 0: (S + 1,) for a float ratio, (B, S + 1) for (B, 1)."""
        r = torch.as_tensor(ratio, dtype=torch.float64)
        r = r if self.use_timestep_transform else torch.ones_like(r)
        return transformed_levels(num_steps or self.num_sampling_steps, r).flip(-1)

    def sample_t(self, batch_size: int, num_latents: int, *, ratio=1.0, generator=None, device=None):
        """Open-Sora's clip-level training t (uniform / logit-normal), transformed, as a constant (B, T) row."""
        t = sample_clip_timesteps(batch_size, num_latents, method=self.sample_method, loc=self.loc,
                                  scale=self.scale, generator=generator, device=device)
        return self.transform(t, torch.as_tensor(ratio, dtype=torch.float32, device=t.device))

    def training_losses(self, model: Callable, x0: torch.Tensor, t: torch.Tensor, *, model_kwargs=None,
                        noise=None, loss_mask=None, generator=None, loss_fn: Callable | None = None) -> dict:
        """Per-frame rectified-flow loss (method section 6).

        1. eps ~ N(0, I) (from ``generator``) unless ``noise`` is given.
        2. x_t = add_noise(x0, eps, t); a latent with t = 0 (context chunk) stays exactly x0.
        3. v = model(x_t, t, **model_kwargs)[:, :C] (channels 0..C-1 of Open-Sora's 2C-channel output).
        4. loss_b = loss_fn(v, x0 - eps, loss_mask) (default ``masked_mse``); loss = mean_b loss_b.

        Args:
            model: callable (x_t (B, C, T, H, W), t (B, T), **kw) -> (B, >= C, T, H, W).
            x0: (B, C, T, H, W).  t: (B, T).  loss_mask: (B, T) bool or None (all counted).
            loss_fn: (pred, target, loss_mask) -> (B,) per-sample losses (``opensora.training.losses``).
        Returns:
            {"loss": scalar, "loss_per_sample": (B,), "x_t": (B, C, T, H, W)}.
        """
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        x_t = add_noise(x0, noise, t)
        v = model(x_t, t, **(model_kwargs or {}))[:, : x0.shape[1]]
        per_sample = (loss_fn or masked_mse)(v, target(x0, noise), loss_mask)
        return {"loss": per_sample.mean(), "loss_per_sample": per_sample, "x_t": x_t}

    def sample(self, denoise: Callable, z: torch.Tensor, *, ratio, num_steps: int | None = None,
               cond_mask: torch.Tensor | None = None, x_cond: torch.Tensor | None = None,
               progress: bool = False) -> torch.Tensor:
        """Plain synchronous sampling (Open-Sora's loop), every latent on the same S-step schedule.

        1. levels (B, S + 1) = sigma(S) ... sigma(1), 0 with the per-sample ratio.
        2. For i = 0..S-1: t = levels[:, i] per frame (0 on ``cond_mask`` frames), v = denoise(z, t),
           z = euler_step(z, v, t, t_next); conditioning frames are reset to ``x_cond`` (Open-Sora x_mask).

        Args:
            denoise: (z (B, C, T, H, W), t (B, T)) -> v (B, C, T, H, W), e.g. a CFG wrapper.
            z: initial noise.  ratio: float or (B, 1).  cond_mask: (B, T) bool, True = clean conditioning
                frame taken from x_cond (B, C, T, H, W).
        """
        b, _, n, _, _ = z.shape
        lv = self.timesteps(torch.as_tensor(ratio, dtype=torch.float64).reshape(-1, 1).expand(b, 1),
                            num_steps).to(z.device)
        cond = torch.zeros(b, n, dtype=torch.bool, device=z.device) if cond_mask is None else cond_mask
        if cond_mask is not None:
            z = torch.where(cond[:, None, :, None, None], x_cond, z)
        for i in tqdm(range(lv.shape[1] - 1), disable=not progress, desc="rflow"):
            t = torch.where(cond, 0.0, lv[:, i : i + 1].expand(b, n))
            t_next = torch.where(cond, 0.0, lv[:, i + 1 : i + 2].expand(b, n))
            z = euler_step(z, denoise(z, t), t, t_next)
            if cond_mask is not None:
                z = torch.where(cond[:, None, :, None, None], x_cond.to(z.dtype), z)
        return z
