"""A chunk-basis linear video autoencoder that codes the camera's horizontal pan as one latent number.

``ChunkPCAVideoVAE`` codes every 8 x 8 cell's 17 frames on their own, so a camera pan is a coordinated change of
the fine (time-varying) components of every cell. The embedded tiny model generated those components with two
thirds of their energy: its chunks came out nearly still and jumped at chunk boundaries (issue 10). This VAE
takes the pan out of the cells: per chunk it measures one horizontal speed v (px/frame), shifts every frame
back to the chunk's middle frame (a *canvas*, wider than the frame by ``margin`` px on each side so that what
enters or leaves the picture during the chunk is kept), codes the canvas with the chunk basis, and stores v in
the last channel of every latent of every cell. Decoding reads v as the mean of that channel over the chunk's
latents and cells and shifts the decoded canvas forward again, so every decoded chunk pans smoothly at exactly one speed.
Anything that is not a horizontal pan (objects moving, vertical motion) stays in the chunk basis, as in
``ChunkPCAVideoVAE``; with v = 0 the two code the same way (on the wider canvas).

Notation (as ``ChunkPCAVideoVAE``, plus):

| symbol | meaning |
|---|---|
| c | the chunk's middle frame, (r - 1) / 2 (8 for r = 17) |
| M | ``margin``, canvas pixels added left and right (16: 2 latent cells each side) |
| v | horizontal speed, px/frame, + = content moves right (the synthetic world's ``dx``) |
| K' | canvas components per cell and chunk, n (C - 1) (the last channel of each latent is v) |

Geometry: frame t, column x shows canvas column u = M + x - v (t - c). Encode, per chunk of r' <= r frames (the
last r' frames of a full chunk): (1) v = the speed that best aligns the frames' column profiles (rows and
colours averaged, frame pairs 1, 2, 4 and 8 frames apart; a grid search in steps of ``speed_step`` over |v| <= ``max_speed``, refined by a parabola),
(2) the canvas: every frame resampled (bicubic) at its columns, canvas pixels a frame does not see filled with
the mean of the frames that do (columns no frame sees: the nearest seen column), front-padded with copies of its
first frame to r frames, (3) the chunk basis on the canvas's cells (slot k holds components k (C - 1) .. k (C - 1) + C - 2, by
decreasing variance, in channels 0 .. C - 2), (4) channel C - 1 of every latent of every cell = v /
``velocity_scale``: n h w copies of one number, so that the diffusion loss weighs it and the network meets it in
the same channel of every latent. Decode inverts the steps; frames sample the canvas with border clamping.
Latents are ``margin`` / p cells wider on each side than H / p x W / p (``get_latent_size``).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from einops import rearrange

from opensora.registry import MODELS
from .chunk_pca_vae import ChunkPCAVideoVAE


def sample_columns(img: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """img (N, C, H, W) sampled along x at fractional columns ``cols`` (N, K) (bicubic, border-clamped) ->
    (N, C, H, K)."""
    n, _, h, w = img.shape
    k = cols.shape[1]
    gx = (2 * cols.to(img.dtype) / max(w - 1, 1) - 1)[:, None, :].expand(n, h, k)
    gy = torch.linspace(-1, 1, h, dtype=img.dtype, device=img.device)[None, :, None].expand(n, h, k)
    return F.grid_sample(img, torch.stack([gx, gy], dim=-1), mode="bicubic", padding_mode="border",
                         align_corners=True)


def shift_columns(img: torch.Tensor, start: torch.Tensor, out_width: int) -> torch.Tensor:
    """Resample images along x: out[n, :, y, j] = img[n, :, y, start_n + j] (bicubic, border-clamped).

    img: (N, C, H, W); start: (N,) fractional column of output column 0; returns (N, C, H, out_width)."""
    cols = start.to(img.dtype)[:, None] + torch.arange(out_width, dtype=img.dtype, device=img.device)
    return sample_columns(img, cols)


def fill_unseen(canvas: torch.Tensor, seen: torch.Tensor, circular: bool = False) -> torch.Tensor:
    """A canvas (B, 3, T, H, U) whose pixels frame t shows where ``seen`` (B, 1, T, 1, U) is true -> every other
    pixel set to its column's mean over the frames that see it; columns no frame sees take the nearest seen
    column's mean (``circular``: around a ring of U columns)."""
    b, u = canvas.shape[0], canvas.shape[-1]
    seen = seen.to(canvas.dtype)
    count = seen.sum(dim=2, keepdim=True)
    mean = (canvas * seen).sum(dim=2, keepdim=True) / count.clamp_min(1)
    seen_cols = count[:, 0, 0, 0] > 0  # (B, U)
    idx = torch.arange(u, device=canvas.device)
    dist = (idx[:, None] - idx[None, :]).abs()
    if circular:
        dist = torch.minimum(dist, u - dist)
    dist = dist.to(torch.float64)[None].expand(b, u, u).clone()  # (B, column, candidate)
    dist[~seen_cols[:, None, :].expand(b, u, u)] = float("inf")
    mean = mean.gather(-1, dist.argmin(dim=2)[:, None, None, None, :].expand_as(mean))
    return seen * canvas + (1 - seen) * mean


def _shift_profiles(prof: torch.Tensor, offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """prof (B, W) sampled at x - offset for each offset (G,): linear interpolation -> (B, G, W) and the mask of
    positions inside the profile."""
    w = prof.shape[-1]
    pos = torch.arange(w, dtype=prof.dtype, device=prof.device)[None, :] - offsets[:, None]  # (G, W)
    inside = (pos >= 0) & (pos <= w - 1)
    p = pos.clamp(0, w - 1)
    lo = p.floor().long().clamp(max=w - 2) if w > 1 else p.floor().long()
    frac = p - lo
    left = prof[:, lo]  # (B, G, W)
    right = prof[:, (lo + 1).clamp(max=w - 1)]
    return left + frac * (right - left), inside


def estimate_pan_speed(frames: torch.Tensor, max_speed: float, step: float) -> torch.Tensor:
    """Horizontal speed (px/frame) of frames (B, 3, T, H, W): the v minimising the mean squared difference between
    the column profile (rows and colours averaged) of frame t + l and that of frame t shifted by l v, averaged
    over the lags l = 1, 2, 4, 8, ... < T (long lags pin the sub-pixel part), over a grid of step ``step`` in
    [-max_speed, max_speed], refined by a parabola through the best grid point and its neighbours. (B,); 0 for
    T = 1."""
    b, _, t, _, w = frames.shape
    if t < 2:
        return frames.new_zeros(b)
    prof = frames.mean(dim=(1, 3))  # (B, T, W)
    count = int(round(max_speed / step))
    grid = torch.arange(-count, count + 1, dtype=frames.dtype, device=frames.device) * step
    lags = [1 << k for k in range((t - 1).bit_length())]  # 1, 2, 4, ... < T
    err = 0.0
    for lag in lags:
        prev, nxt = prof[:, :-lag].reshape(-1, w), prof[:, lag:].reshape(-1, w)
        shifted, inside = _shift_profiles(prev, grid * lag)  # frame t+l at x ~ frame t at x - l v
        e = ((shifted - nxt[:, None]) ** 2 * inside).sum(-1) / inside.sum(-1).clamp_min(1)
        err = err + e.reshape(b, t - lag, -1).mean(1) / len(lags)  # (B, G)
    best = err.argmin(dim=1)
    i = best.clamp(1, grid.numel() - 2)
    e0, e1, e2 = (err.gather(1, (i + k)[:, None])[:, 0] for k in (-1, 0, 1))
    curv = e0 - 2 * e1 + e2
    delta = torch.where(curv > 0, 0.5 * (e0 - e2) / curv.clamp_min(1e-12), torch.zeros_like(curv)).clamp(-1, 1)
    at_edge = (best == 0) | (best == grid.numel() - 1)
    return torch.where(at_edge, grid[best], grid[i] + delta * step)


@MODELS.register_module(name="PanChunkPCAVideoVAE")
class PanChunkPCAVideoVAE(ChunkPCAVideoVAE):
    """Chunk-basis linear VAE with one latent number for the horizontal camera pan (see the module docstring).

    Args: as :class:`ChunkPCAVideoVAE`, plus
        margin: canvas pixels added on each side (a multiple of ``patch_size``); pans up to margin / c px/frame
            keep everything a chunk shows.
        velocity_scale: px/frame per latent unit of the speed channel.
        max_speed: the largest speed the encoder looks for (default: margin / c + 0.5).
        speed_step: the encoder's grid step for the speed, px/frame.
    """

    motion_channels = 1

    def __init__(self, from_pretrained: Optional[str] = None, latent_channels: int = 32, patch_size: int = 8,
                 time_factor: int = 4, micro_frame_size: int = 17, micro_batch_size: Optional[int] = None,
                 in_channels: int = 3, margin: int = 16, velocity_scale: float = 0.5,
                 max_speed: Optional[float] = None, speed_step: float = 1 / 32):
        if margin < 0 or margin % patch_size:
            raise ValueError(f"margin must be a non-negative multiple of patch_size={patch_size}, got {margin}")
        if velocity_scale <= 0 or speed_step <= 0:
            raise ValueError(f"velocity_scale and speed_step must be > 0, got {velocity_scale} and {speed_step}")
        super().__init__(None, latent_channels, patch_size, time_factor, micro_frame_size, micro_batch_size,
                         in_channels)
        self.margin, self.velocity_scale, self.speed_step = int(margin), float(velocity_scale), float(speed_step)
        self.middle = (micro_frame_size - 1) / 2
        self.max_speed = float(max_speed) if max_speed is not None else (margin / max(self.middle, 1) + 0.5)
        self.arch.update(margin=self.margin, velocity_scale=self.velocity_scale, max_speed=self.max_speed,
                         speed_step=self.speed_step)
        if from_pretrained is not None:
            self.load_pretrained(from_pretrained)

    # ---- sizes ------------------------------------------------------------------------------------
    def get_latent_size(self, input_size: Sequence[Optional[int]]) -> list:
        """[T, H, W] -> [T', H // p, (W + 2 margin) // p]: the canvas is wider than the frame."""
        t, h, w = super().get_latent_size(input_size)
        return [t, h, None if w is None else w + 2 * self.margin // self.patch_size]

    def pixel_metric(self, frame_weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        raise ValueError("PanChunkPCAVideoVAE decodes non-linearly (it shifts the canvas by the coded speed), so "
                         "it has no pixel metric: train with loss type 'latent'")

    # ---- canvas -----------------------------------------------------------------------------------
    def frame_times(self, frames: int) -> torch.Tensor:
        """Positions of a chunk's ``frames`` frames inside a full chunk (its last ones), minus the middle c."""
        return torch.arange(self.micro_frame_size - frames, self.micro_frame_size, dtype=torch.float64) - self.middle

    def pan_offsets(self, speed: torch.Tensor, frames: int) -> torch.Tensor:
        """v (t - c) for each of a chunk's last ``frames`` frames: (B, frames) float64, px."""
        return speed.double()[:, None] * self.frame_times(frames).to(speed.device)[None]

    def to_canvas(self, chunk: torch.Tensor, speed: torch.Tensor) -> torch.Tensor:
        """One chunk (B, 3, r', H, W) and its speed (B,) -> the canvas (B, 3, r', H, W + 2M) (module docstring)."""
        b, c, frames, h, w = chunk.shape
        m, wc = self.margin, w + 2 * self.margin
        start = (self.pan_offsets(speed, frames) - m).reshape(-1)  # canvas column u shows frame column u - M + v (t - c)
        flat = rearrange(chunk, "B C T H W -> (B T) C H W")
        canvas = rearrange(shift_columns(flat, start.to(chunk.dtype), wc), "(B T) C H W -> B C T H W", B=b)
        cols = start.to(chunk.dtype)[:, None] + torch.arange(wc, dtype=chunk.dtype, device=chunk.device)
        seen = ((cols >= -1e-6) & (cols <= w - 1 + 1e-6)).reshape(b, 1, frames, 1, wc)
        return fill_unseen(canvas, seen)

    def from_canvas(self, canvas: torch.Tensor, speed: torch.Tensor, num_frames: int) -> torch.Tensor:
        """Canvas (B, 3, r, H, W + 2M) of a full chunk -> its last ``num_frames`` frames (B, 3, num_frames, H, W)."""
        b, c, r, h, wc = canvas.shape
        w = wc - 2 * self.margin
        canvas = canvas[:, :, r - num_frames:]
        start = (self.margin - self.pan_offsets(speed, num_frames)).reshape(-1).to(canvas.dtype)  # frame column x shows u = M + x - v (t - c)
        flat = rearrange(canvas, "B C T H W -> (B T) C H W")
        return rearrange(shift_columns(flat, start, w), "(B T) C H W -> B C T H W", B=b)

    def canvas_groups(self, chunk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One chunk (B, 3, r', H, W) -> the cells of its canvas (B, 1, h, w + 2M/p, D) and its speed (B,)."""
        speed = estimate_pan_speed(chunk, self.max_speed, self.speed_step)
        return self.to_groups(self.to_canvas(chunk, speed)), speed

    def fit_groups(self, chunk: torch.Tensor) -> torch.Tensor:
        """The cells the basis is fitted on: those of the chunk's canvas."""
        return self.canvas_groups(chunk)[0]

    # ---- encode / decode --------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """x: (B, 3, T, H, W) in [-1, 1] -> z: (B, C, T', H/p, (W + 2M)/p), normalised. Deterministic."""
        self._check(x, self.in_channels, "x")
        x = x.to(self.dtype)
        out = []
        for chunk in x.split(self.micro_frame_size, dim=2):
            groups, speed = self.canvas_groups(chunk)
            out.append(self.chunk_latents(groups, speed, chunk.shape[2]))
        return torch.cat(out, dim=2)

    def chunk_latents(self, groups: torch.Tensor, speed: torch.Tensor, frames: int) -> torch.Tensor:
        """A chunk's canvas cells (B, 1, h, w', D) and speed (B,) -> its latents (B, C, n', h, w'): the canvas in
        the chunk basis in channels 0 .. C - 2, v / velocity_scale in C - 1; the first n' latents of ``frames``."""
        comps = ((groups[:, 0] - self.mean) @ self.basis.T) / self.scale
        comps = rearrange(comps, "B h w (n C) -> B h w n C", n=self.latents_per_chunk)
        v = (speed / self.velocity_scale).to(comps.dtype)[:, None, None, None, None].expand(*comps.shape[:4], 1)
        z = rearrange(torch.cat([comps, v], dim=-1), "B h w n C -> B C n h w")
        return z[:, :, : self.latent_frames(frames)]

    def decode_speed(self, z_chunk: torch.Tensor) -> torch.Tensor:
        """The chunk's speed (B,) px/frame: the last channel, averaged over the chunk's latents and cells."""
        return z_chunk[:, -1].mean(dim=(1, 2, 3)) * self.velocity_scale

    def decode_chunk(self, z_chunk: torch.Tensor, num_frames: Optional[int] = None) -> torch.Tensor:
        """One chunk z: (B, C, n', h, w + 2M/p), n' <= n -> (B, 3, num_frames, p h, p w); missing latents are 0."""
        num_frames = self._chunk_frames(z_chunk, num_frames)
        canvas, speed = self.chunk_canvas(z_chunk)
        return self.from_canvas(canvas, speed, num_frames)

    def chunk_canvas(self, z_chunk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One chunk's latents (B, C, n', h, w'), n' <= n (missing latents are 0) -> its decoded canvas of a full
        chunk (B, 3, r, p h, p w') and its speed (B,)."""
        z = z_chunk.to(self.dtype)
        if z.shape[-1] <= 2 * self.margin // self.patch_size:
            raise ValueError(f"z_chunk is {z.shape[-1]} cells wide, but the canvas adds "
                             f"{2 * self.margin // self.patch_size}; pass latents from this VAE's encode")
        speed = self.decode_speed(z)
        missing = self.latents_per_chunk - z.shape[2]
        if missing:
            z = torch.cat([z, z.new_zeros(z.shape[0], z.shape[1], missing, *z.shape[3:])], dim=2)
        comps = rearrange(z[:, : -self.motion_channels], "B C n h w -> B h w (n C)") * self.scale
        return self.from_groups((comps @ self.basis + self.mean)[:, None], self.micro_frame_size), speed
