"""A linear (PCA) video autoencoder with the Open-Sora v1.2 VAE interface: the embedded tiny model's VAE.

It keeps the structure the PA sampler relies on -- 17-frame micro-chunks <-> 5 latents, chunks independent,
``encode`` / ``decode`` / ``decode_chunk`` / ``get_latent_size`` / ``latent_frames`` -- and replaces the two
networks by one orthogonal projection fitted to data with :func:`fit_pca` (``tools/fit_pca_vae.py``).

Notation:

| symbol | meaning |
|---|---|
| f | frames per latent (``time_factor``, 4) |
| p | pixels per latent cell side (``patch_size``, 8) |
| D | values per group, ``3 * f * p * p`` (768) |
| C | latent channels (``latent_channels``, 32) |
| g | a group: the f x p x p x 3 pixels of one latent cell, flattened in (t, py, px, rgb) order |

Encode, per micro-chunk of r <= 17 frames: (1) front-pad with ``(-r) % f`` copies of the first frame (Open-Sora
pads with zeros; a copy keeps the first group in distribution), (2) cut into groups g, (3) z_raw = (g - mean)
basis^T, (4) z = (z_raw - shift) / scale. Decode inverts (4) and (3), reassembles frames and drops the padding.
``basis`` has orthonormal rows, so decode(encode(x)) is the least-squares reconstruction of x from C numbers
per group. How ``scale`` weighs the channels decides what the diffusion loss sees (:func:`fit_pca`; the shipped
fit is ``scaling="balanced"``). Encoding is deterministic (``generator`` is accepted for interface compatibility and unused).
"""
from __future__ import annotations

from typing import Optional

import torch
from einops import rearrange
from torch import nn

from opensora.registry import MODELS
from .chunked import ChunkedVideoVAE


class LinearVideoVAE(ChunkedVideoVAE):
    """What the linear VAEs share: argument checks and sizes, and the properties read off the ``basis`` buffer."""

    def _init_sizes(self, latent_channels: int, patch_size: int, time_factor: int, micro_frame_size: int,
                    micro_batch_size: Optional[int], in_channels: int) -> None:
        for name, value in (("latent_channels", latent_channels), ("patch_size", patch_size),
                            ("time_factor", time_factor), ("micro_frame_size", micro_frame_size)):
            if int(value) < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.in_channels, self.patch_size, self.time_factor = in_channels, patch_size, time_factor
        self.micro_frame_size, self.micro_batch_size = micro_frame_size, micro_batch_size
        self.out_channels = latent_channels
        self.latents_per_chunk = -(-micro_frame_size // time_factor)
        self.arch = dict(latent_channels=latent_channels, patch_size=patch_size, time_factor=time_factor,
                         micro_frame_size=micro_frame_size, in_channels=in_channels)

    @property
    def spatial_factor(self) -> int:
        return self.patch_size

    @property
    def dtype(self) -> torch.dtype:
        return self.basis.dtype

    @property
    def device(self) -> torch.device:
        return self.basis.device


@MODELS.register_module(name="PCAVideoVAE")
class PCAVideoVAE(LinearVideoVAE, nn.Module):
    """Linear video autoencoder with the ``OpenSoraVAE_V1_2`` interface.

    Args:
        from_pretrained: a directory written by :meth:`save_pretrained`, a ``.safetensors`` file or a Hub id;
            loaded strictly. Without it the basis selects the first C group values (a placeholder for
            shape-only uses such as dry runs; fit one with ``tools/fit_pca_vae.py``).
        latent_channels: C, numbers per latent cell.
        patch_size: p, the spatial compression (8, as Open-Sora's VAE).
        time_factor: f, the temporal compression (4, as Open-Sora's VAE).
        micro_frame_size: frames per independent chunk (17 -> 5 latents).
        micro_batch_size: accepted for config compatibility with ``OpenSoraVAE_V1_2``; unused.
    """

    def __init__(self, from_pretrained: Optional[str] = None, latent_channels: int = 32, patch_size: int = 8,
                 time_factor: int = 4, micro_frame_size: int = 17, micro_batch_size: Optional[int] = None,
                 in_channels: int = 3):
        super().__init__()
        self._init_sizes(latent_channels, patch_size, time_factor, micro_frame_size, micro_batch_size, in_channels)
        self.group_dim = in_channels * time_factor * patch_size * patch_size
        if latent_channels > self.group_dim:
            raise ValueError(f"latent_channels={latent_channels} exceeds the {self.group_dim} values of a group "
                             f"(3 x {time_factor} x {patch_size} x {patch_size}); use at most {self.group_dim}")
        self.register_buffer("mean", torch.zeros(self.group_dim))
        self.register_buffer("basis", torch.eye(latent_channels, self.group_dim))
        self.register_buffer("shift", torch.zeros(1, latent_channels, 1, 1, 1))
        self.register_buffer("scale", torch.ones(1, latent_channels, 1, 1, 1))
        if from_pretrained is not None:
            self.load_pretrained(from_pretrained)

    @property
    def num_components(self) -> int:
        """Principal axes per group (the fit's size): one per latent channel."""
        return self.out_channels

    def load_fit(self, fitted: dict) -> None:
        """Take ``mean``, ``basis`` and ``scale`` from :func:`fit_pca` (``shift`` stays 0: the fit centres)."""
        self.mean.copy_(fitted["mean"]), self.basis.copy_(fitted["basis"])
        self.scale.copy_(fitted["scale"].reshape(self.scale.shape)), self.shift.zero_()

    # ---- groups (shared with the fitting code) ------------------------------------------------------
    def fit_groups(self, chunk: torch.Tensor) -> torch.Tensor:
        """The groups the basis is fitted on (``tools/fit_pca_vae.py``): those of ``to_groups``."""
        return self.to_groups(chunk)

    def to_groups(self, chunk: torch.Tensor) -> torch.Tensor:
        """One micro-chunk (B, 3, r, H, W) -> groups (B, n, H/p, W/p, D), front-padded with the first frame."""
        p, f = self.patch_size, self.time_factor
        b, c, r, h, w = chunk.shape
        if h % p or w % p:
            raise ValueError(f"frame size {h}x{w} must be a multiple of patch_size={p}; resize or crop the video")
        pad = (-r) % f
        if pad:
            chunk = torch.cat([chunk[:, :, :1].expand(b, c, pad, h, w), chunk], dim=2)
        return rearrange(chunk, "B C (n f) (h py) (w px) -> B n h w (f py px C)", f=f, py=p, px=p)

    def from_groups(self, groups: torch.Tensor, num_frames: int) -> torch.Tensor:
        """Groups (B, n, h, w, D) -> the last ``num_frames`` frames (B, 3, num_frames, h p, w p)."""
        p, f = self.patch_size, self.time_factor
        x = rearrange(groups, "B n h w (f py px C) -> B C (n f) (h py) (w px)", f=f, py=p, px=p, C=self.in_channels)
        return x[:, :, x.shape[2] - num_frames:]

    # ---- encode / decode --------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """x: (B, 3, T, H, W) in [-1, 1] -> z: (B, C, T', H/p, W/p), normalised. Deterministic."""
        self._check(x, self.in_channels, "x")
        x = x.to(self.dtype)
        out = []
        for chunk in x.split(self.micro_frame_size, dim=2):
            z = (self.to_groups(chunk) - self.mean) @ self.basis.T
            out.append(rearrange(z, "B n h w C -> B C n h w"))
        return (torch.cat(out, dim=2) - self.shift) / self.scale

    def decode_chunk(self, z_chunk: torch.Tensor, num_frames: Optional[int] = None) -> torch.Tensor:
        """One chunk z: (B, C, n, h, w), n <= latents_per_chunk -> (B, 3, num_frames, p h, p w)."""
        num_frames = self._chunk_frames(z_chunk, num_frames)
        z = z_chunk.to(self.dtype) * self.scale + self.shift
        groups = rearrange(z, "B C n h w -> B n h w C") @ self.basis + self.mean
        return self.from_groups(groups, num_frames)


class PCAStats:
    """Streaming first and second moments of groups (float64), for :func:`fit_pca`."""

    def __init__(self, dim: int):
        self.count = 0
        self.total = torch.zeros(dim, dtype=torch.float64)
        self.outer = torch.zeros(dim, dim, dtype=torch.float64)

    def update(self, groups: torch.Tensor) -> None:
        g = groups.reshape(-1, groups.shape[-1]).to(torch.float64)
        self.count += g.shape[0]
        self.total += g.sum(0)
        self.outer += g.T @ g


LATENT_SCALINGS = ("balanced", "uniform", "whiten")


def fit_pca(stats: PCAStats, latent_channels: int, scaling: str = "balanced") -> dict:
    """Principal axes of the groups and the latent scale.

    Returns ``mean`` (D,), ``basis`` (C, D) orthonormal rows by decreasing variance, ``std`` (C,) the standard
    deviation along each axis, ``explained`` (the fraction of the variance the C axes keep) and ``scale`` (C,).
    A latent error e in channel c costs e * scale_c in pixels (L2 over the group), and every scaling keeps
    mean_c (std_c / scale_c)^2 = 1 (unit latent variance on average, what the noise level assumes):

    - ``"whiten"``: scale_c = std_c. Unit variance per channel, but an error costs 90x more pixels in channel 0
      (the cell's mean colour, std 15.1) than in channel 31 (0.17): a model trained on whitened latents leaves
      channel 0 inconsistent from latent to latent and flickers (issue 10: frame difference 11.5-13.4 at latent
      boundaries against 0.7-1.8 elsewhere).
    - ``"uniform"``: scale_c = rms(std): latent MSE = pixel MSE, but the low-variance channels then sit far below
      the noise (std 0.06 against 1), and whatever noise the model fails to remove there stays as strong
      pixel noise (measured after 500 training steps: sky and ground right, every cell full of coloured noise).
    - ``"balanced"`` (default): scale_c = sqrt(std_c * mean(std)). If the model errs by about the same e in
      every channel, the pixel error e^2 sum_c scale_c^2 under the unit-variance constraint is smallest for
      scale_c proportional to sqrt(std_c) (Lagrange); channel 0 and channel 31 differ 9.4x instead of 90x.
    """
    if stats.count < 2:
        raise ValueError(f"need at least 2 groups to fit a PCA, got {stats.count}; give the fit more video")
    if scaling not in LATENT_SCALINGS:
        raise ValueError(f"unknown latent scaling {scaling!r}; use one of {LATENT_SCALINGS}")
    mean = stats.total / stats.count
    cov = stats.outer / stats.count - torch.outer(mean, mean)
    eigvals, eigvecs = torch.linalg.eigh(cov)  # ascending
    order = torch.argsort(eigvals, descending=True)[:latent_channels]
    var = eigvals[order].clamp_min(1e-12)
    std = var.sqrt()
    scale = {"whiten": std, "uniform": var.mean().sqrt().expand(latent_channels),
             "balanced": (std * std.mean()).sqrt()}[scaling]
    return {"mean": mean.float(), "basis": eigvecs[:, order].T.contiguous().float(), "std": std.float(),
            "scale": scale.float().clone(), "explained": float(var.sum() / eigvals.clamp_min(0).sum())}
