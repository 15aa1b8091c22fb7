"""Per-sample training losses on the velocity error (built from the config's ``loss`` dict, registry ``LOSSES``).

Every loss is a callable ``(pred (B, C, T, h, w), target (B, C, T, h, w), loss_mask (B, T) bool or None) -> (B,)``
that ``RFlow.training_losses`` calls; masked latents (the clean context chunk) never count.

| type | loss_b |
|---|---|
| ``latent`` | Open-Sora's: the mean squared error of the normalised latents (``masked_mse``); with ``slot_weights`` each latent's error is weighted by its position inside its chunk |
| ``pixel`` | the mean squared error of the **decoded** velocity error, through a linear VAE's decoder: e^T M e per cell and chunk, M = J^T W J / mean(diag), J = d pixels / d latents, W = per-frame weights |

Why ``pixel``: a VAE's latent normalisation decides what the latent MSE pays for. The embedded model's PCA VAE
scales its components from 4.5 (a cell's mean colour over the chunk) down to 0.3, so the latent MSE charges an
error in the first component 200 times less, per unit of picture change, than one in the last: the loss is least
sensitive to what the eye sees. With ``pixel`` one unit of decoded picture error costs the same everywhere, and
``boundary_weight`` charges the first and last ``boundary_frames`` frames of every chunk more (the frames
whose agreement with the neighbouring chunk is a chunk seam). The metric is normalised to a mean diagonal of 1,
so the loss has the latent MSE's size and the learning rate keeps its meaning.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange

from opensora.registry import LOSSES
from opensora.schedulers.rectified_flow import masked_mse


@LOSSES.register_module("latent")
class LatentLoss:
    """Open-Sora's loss: the masked mean squared error of the normalised latents.

    Args:
        vae: only read when ``slot_weights`` is given: its ``latents_per_chunk`` must equal their number.
        slot_weights: None (every latent alike, Open-Sora's loss) or one weight >= 0 per latent of a chunk (5 for a
            17-frame chunk): latent t of a window (which starts on a chunk boundary) counts with weight
            ``slot_weights[t % n]``. They are divided by their mean, so (1, 1, 1, 1, 1) is the plain MSE and the
            loss keeps its size. Why: in ``ChunkPCAVideoVAE`` slot 0 carries most of a cell's mean colour and
            slots 1-4 most of its change over the chunk (``time_varying_fraction``); the embedded model generated
            slots 1-4 at 0.6 of their energy (``tools/latent_energy.py``), i.e. nearly still chunks.
    """

    def __init__(self, *, vae=None, slot_weights=None):
        self.slot_weights = None
        if slot_weights is None:
            return
        weights = torch.as_tensor([float(w) for w in slot_weights], dtype=torch.float64)
        per_chunk = getattr(vae, "latents_per_chunk", None)
        if per_chunk is None:
            raise ValueError(f"loss slot_weights need a VAE with latents_per_chunk (the PCA VAEs); "
                             f"{type(vae).__name__} has none: drop slot_weights")
        if weights.numel() != int(per_chunk):
            raise ValueError(f"loss slot_weights must have one weight per latent of a chunk ({per_chunk}), got "
                             f"{len(weights)}: {list(slot_weights)}")
        if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()) or not float(weights.sum()) > 0:
            raise ValueError(f"loss slot_weights must be finite, >= 0 and not all 0, got {list(slot_weights)}")
        self.slot_weights = (weights / weights.mean()).float()

    def __call__(self, pred: torch.Tensor, tgt: torch.Tensor, loss_mask: torch.Tensor | None = None) -> torch.Tensor:
        per_latent = None
        if self.slot_weights is not None:
            slots = torch.arange(pred.shape[2]) % self.slot_weights.numel()
            per_latent = self.slot_weights[slots]
        return masked_mse(pred, tgt, loss_mask, per_latent)


def frame_weights(num_frames: int, boundary_frames: int, boundary_weight: float) -> torch.Tensor:
    """(num_frames,) float64: ``boundary_weight`` on the first and last ``boundary_frames`` frames, 1 elsewhere."""
    w = torch.ones(num_frames, dtype=torch.float64)
    if boundary_frames:
        w[:boundary_frames] = boundary_weight
        w[num_frames - boundary_frames:] = boundary_weight
    return w


@LOSSES.register_module("pixel")
class PixelLoss:
    """The decoded (pixel-space) squared velocity error per chunk, through ``vae.pixel_metric``.

    Args:
        vae: a linear VAE with ``pixel_metric(frame_weights) -> (n C, n C)`` (``ChunkPCAVideoVAE``).
        boundary_frames: frames at each end of a chunk weighted by ``boundary_weight`` (0: none).
        boundary_weight: the weight of those frames (> 0; 1 = every frame alike).
    """

    def __init__(self, *, vae, boundary_frames: int = 0, boundary_weight: float = 1.0):
        if not hasattr(vae, "pixel_metric"):
            raise ValueError(f"loss type 'pixel' needs a linear VAE with pixel_metric() (ChunkPCAVideoVAE); "
                             f"{type(vae).__name__} has none: use loss=dict(type='latent')")
        frames = int(vae.micro_frame_size)
        if not 0 <= int(boundary_frames) <= frames // 2:
            raise ValueError(f"boundary_frames must be in 0..{frames // 2} (a chunk has {frames} frames), "
                             f"got {boundary_frames}")
        if not float(boundary_weight) > 0:
            raise ValueError(f"boundary_weight must be > 0, got {boundary_weight}")
        metric = vae.pixel_metric(frame_weights(frames, int(boundary_frames), float(boundary_weight)))
        self.metric = (metric / metric.diagonal().mean()).float()
        self.latents_per_chunk = int(vae.latents_per_chunk)

    def __call__(self, pred: torch.Tensor, tgt: torch.Tensor, loss_mask: torch.Tensor | None = None) -> torch.Tensor:
        b, c, t, h, w = pred.shape
        n = self.latents_per_chunk
        if self.metric.shape[0] != n * c:
            raise ValueError(f"the pixel metric is for {self.metric.shape[0] // n} latent channels, the prediction "
                             f"has {c}")
        if loss_mask is None:
            loss_mask = torch.ones(b, t, dtype=torch.bool, device=pred.device)
        keep = loss_mask.to(pred.device, torch.bool)[:, None, :, None, None]
        err = torch.where(keep, (pred - tgt).float(), torch.zeros((), device=pred.device))
        err = F.pad(err, (0, 0, 0, 0, 0, (-t) % n))  # a partial last chunk: its missing latents count 0
        cells = rearrange(err, "B C (k n) h w -> B k h w (n C)", n=n)
        metric = self.metric.to(cells.device)
        q = ((cells @ metric) * cells).sum(dim=(1, 2, 3, 4))
        count = loss_mask.sum(dim=1).clamp(min=1) * (c * h * w)
        return q / count
