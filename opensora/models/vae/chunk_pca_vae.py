"""A linear video autoencoder whose basis spans a whole 17-frame chunk: no latent-to-latent seams inside a chunk.

``PCAVideoVAE`` codes every 4-frame group of a chunk on its own, so latents that disagree (a small diffusion model
generates them almost independently) decode to a picture that jumps every 4 frames (a 6-Hz flicker). This VAE
keeps the same interface and sizes (17 frames <-> 5 latents of C channels, 8 x 8-px cells, chunks independent)
but projects each cell's whole chunk, 17 frames x p x p x 3 values, onto K = 5 C principal axes fitted to data
(``tools/fit_pca_vae.py --vae-type ChunkPCAVideoVAE``). Latent slot n of a chunk holds components n C .. n C + C - 1
(by decreasing variance), so every latent of a chunk shapes all 17 frames smoothly; a decoded video can jump only
between chunks, where PA's clean context chunk conditions the next one.

Notation:

| symbol | meaning |
|---|---|
| r | frames of one micro-chunk (``micro_frame_size``, 17) |
| p | pixels per latent cell side (``patch_size``, 8) |
| n | latents per chunk (``latents_per_chunk`` = ceil(r / time_factor), 5) |
| C | latent channels (``latent_channels``, 32) |
| K | components per cell and chunk, n C (160) |
| D | values per cell and chunk, r p p 3 (3264) |

Encode, per chunk of r' <= r frames: (1) front-pad to r frames with copies of the first frame, (2) cut into cells
g (D values, (t, py, px, rgb) order), (3) c = ((g - mean) basis^T) / scale, K numbers, (4) slot them as n latents of
C channels and keep the first ceil(r' / time_factor). Decode inverts the steps; missing latents of a partial chunk
decode as zeros (the mean), and the padding frames are dropped.
"""
from __future__ import annotations

from typing import Optional

import torch
from einops import rearrange
from torch import nn

from opensora.registry import MODELS
from .pca_vae import LinearVideoVAE


@MODELS.register_module(name="ChunkPCAVideoVAE")
class ChunkPCAVideoVAE(LinearVideoVAE, nn.Module):
    """Linear chunk-basis video autoencoder with the ``OpenSoraVAE_V1_2`` interface (see the module docstring).

    Args: as :class:`PCAVideoVAE` (``from_pretrained``, ``latent_channels``, ``patch_size``, ``time_factor``,
    ``micro_frame_size``, ``micro_batch_size`` accepted and unused, ``in_channels``).
    """

    motion_channels = 0  # channels of every latent that are not basis components (a subclass's pan speed): the last

    def __init__(self, from_pretrained: Optional[str] = None, latent_channels: int = 32, patch_size: int = 8,
                 time_factor: int = 4, micro_frame_size: int = 17, micro_batch_size: Optional[int] = None,
                 in_channels: int = 3):
        super().__init__()
        self._init_sizes(latent_channels, patch_size, time_factor, micro_frame_size, micro_batch_size, in_channels)
        self.group_dim = in_channels * micro_frame_size * patch_size * patch_size
        self.num_components = (latent_channels - self.motion_channels) * self.latents_per_chunk
        if self.num_components > self.group_dim:
            raise ValueError(f"{self.latents_per_chunk} latents x {latent_channels} channels = {self.num_components} "
                             f"components exceed the {self.group_dim} values of a cell's chunk; use fewer channels")
        self.register_buffer("mean", torch.zeros(self.group_dim))
        self.register_buffer("basis", torch.eye(self.num_components, self.group_dim))
        self.register_buffer("scale", torch.ones(self.num_components))
        if from_pretrained is not None:
            self.load_pretrained(from_pretrained)

    def latent_frame_starts(self) -> list:
        """[0]: every latent spans the whole chunk, so a decoded video can jump only at chunk boundaries."""
        return [0]

    def time_varying_fraction(self) -> torch.Tensor:
        """(n, C) float64: for each latent slot and channel, the share of its basis vector's energy that changes
        over the chunk's frames, ||b - mean_t b||^2 / ||b||^2 (0: a still picture, 1: no still part at all).
        The components that carry motion are the ones near 1; a model that generates them too weakly makes
        chunks that barely move inside and jump at their boundaries."""
        r = self.micro_frame_size
        b = self.basis.detach().double().cpu().reshape(self.num_components, r, -1)
        moving = (b - b.mean(dim=1, keepdim=True)).pow(2).sum(dim=(1, 2))
        total = b.pow(2).sum(dim=(1, 2)).clamp_min(1e-300)
        frac = (moving / total).reshape(self.latents_per_chunk, self.out_channels - self.motion_channels)
        return torch.cat([frac, frac.new_zeros(self.latents_per_chunk, self.motion_channels)], dim=1)  # not components: 0

    def fit_groups(self, chunk: torch.Tensor) -> torch.Tensor:
        """The cells the basis is fitted on (``tools/fit_pca_vae.py``): those of ``to_groups``."""
        return self.to_groups(chunk)

    def load_fit(self, fitted: dict) -> None:
        """Take ``mean``, ``basis`` and ``scale`` from :func:`opensora.models.vae.pca_vae.fit_pca`."""
        self.mean.copy_(fitted["mean"]), self.basis.copy_(fitted["basis"]), self.scale.copy_(fitted["scale"])

    def pixel_metric(self, frame_weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(K, K) float64 metric M of one cell's chunk: for a latent error e (the K = n C numbers of a cell, in
        the ``(n C)`` order of ``decode_chunk``), e^T M e = sum_t w_t |decoded change of frame t|^2.

        M = J^T diag(w) J with J = basis^T diag(scale) (D x K, pixels per latent unit); ``frame_weights``
        (r,) are w (default 1: M = diag(scale^2), the basis being orthonormal). Used by the ``pixel`` loss.
        """
        if self.basis.is_meta:
            raise ValueError("pixel_metric needs the VAE's fitted basis, but this VAE was built on the meta device "
                             "(e.g. for pre-extracted latents): train with the video dataset, or loss type 'latent'")
        r = self.micro_frame_size
        w = torch.ones(r, dtype=torch.float64) if frame_weights is None else torch.as_tensor(frame_weights).double()
        if w.shape != (r,):
            raise ValueError(f"frame_weights must have one weight per chunk frame, shape ({r},); got {tuple(w.shape)}")
        jac = self.basis.detach().double().cpu().T * self.scale.detach().double().cpu()
        per_value = w.repeat_interleave(self.group_dim // r)  # cells are (t, py, px, rgb): t outermost
        return jac.T @ (per_value[:, None] * jac)

    # ---- cells ------------------------------------------------------------------------------------
    def to_groups(self, chunk: torch.Tensor) -> torch.Tensor:
        """One chunk (B, 3, r', H, W), r' <= r -> cells (B, 1, H/p, W/p, D), front-padded with the first frame."""
        p = self.patch_size
        b, c, frames, h, w = chunk.shape
        if h % p or w % p:
            raise ValueError(f"frame size {h}x{w} must be a multiple of patch_size={p}; resize or crop the video")
        if not 0 < frames <= self.micro_frame_size:
            raise ValueError(f"a chunk holds 1..{self.micro_frame_size} frames, got {frames}")
        pad = self.micro_frame_size - frames
        if pad:
            chunk = torch.cat([chunk[:, :, :1].expand(b, c, pad, h, w), chunk], dim=2)
        return rearrange(chunk, "B C T (h py) (w px) -> B 1 h w (T py px C)", py=p, px=p)

    def from_groups(self, groups: torch.Tensor, num_frames: int) -> torch.Tensor:
        """Cells (B, 1, h, w, D) -> the last ``num_frames`` frames (B, 3, num_frames, h p, w p)."""
        p = self.patch_size
        x = rearrange(groups[:, 0], "B h w (T py px C) -> B C T (h py) (w px)", py=p, px=p, C=self.in_channels)
        return x[:, :, x.shape[2] - num_frames:]

    # ---- encode / decode --------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """x: (B, 3, T, H, W) in [-1, 1] -> z: (B, C, T', H/p, W/p), normalised. Deterministic."""
        self._check(x, self.in_channels, "x")
        x = x.to(self.dtype)
        out = []
        for chunk in x.split(self.micro_frame_size, dim=2):
            comps = ((self.to_groups(chunk)[:, 0] - self.mean) @ self.basis.T) / self.scale
            z = rearrange(comps, "B h w (n C) -> B C n h w", n=self.latents_per_chunk)
            out.append(z[:, :, : self.latent_frames(chunk.shape[2])])
        return torch.cat(out, dim=2)

    def decode_chunk(self, z_chunk: torch.Tensor, num_frames: Optional[int] = None) -> torch.Tensor:
        """One chunk z: (B, C, n', h, w), n' <= n -> (B, 3, num_frames, p h, p w); missing latents are zeros."""
        num_frames = self._chunk_frames(z_chunk, num_frames)
        z = z_chunk.to(self.dtype)
        missing = self.latents_per_chunk - z.shape[2]
        if missing:
            z = torch.cat([z, z.new_zeros(z.shape[0], z.shape[1], missing, *z.shape[3:])], dim=2)
        comps = rearrange(z, "B C n h w -> B h w (n C)") * self.scale
        return self.from_groups((comps @ self.basis + self.mean)[:, None], num_frames)
