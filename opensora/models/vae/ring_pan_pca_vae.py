"""The pan-coded chunk VAE on a world-anchored ring canvas: a chunk that copies its context in place continues it.

``PanChunkPCAVideoVAE`` anchors every chunk's canvas at the chunk's own middle frame, so the same piece of the world
sits 17 v px further along the canvas in the next chunk. The embedded tiny model copies its clean context chunk
*in place* (measured on its 60-s videos: the content at the start of chunk k + 1 is the content at the start of
chunk k, shift 0 instead of 17 v; inside a chunk it pans at v), so each chunk replays the same stretch of the
world and the video jumps back by about 17 v px at every chunk boundary. This VAE makes in-place copying correct:
the canvas is a **ring** of R = W + 2 M columns anchored in the world, world column X on ring column X mod R, so
what two consecutive chunks both show lies at the same ring columns (the same latent cells).

Where the view is on the ring, the **phase** psi (px), is not in the latents: it follows from the chunks' speeds,
psi' = psi - v (c + 1/2) - v' (c + 1/2) for consecutive full chunks (the content's motion between their middle
frames), from psi = 0 at a video's first chunk. The encoder and the decoder both run that recursion over a video's
chunks, so decoding is stateful: :meth:`decode` decodes a whole video, :meth:`chunk_decoder` gives a decoder that
takes a video's chunks one at a time, in order (the pipeline streams with it). (A first version coded the phase as
(cos, sin) in two latent channels; the tiny model had not learnt to generate them after 1000 steps.)

Notation (as ``PanChunkPCAVideoVAE``, plus):

| symbol | meaning |
|---|---|
| R | ring width, W + 2 M px (128 for 96-px frames and M = 16) |
| psi | the chunk's phase: frame t, column x shows ring column (M + x - v (t - c) + psi) mod R |

Latents are laid out exactly as ``PanChunkPCAVideoVAE``'s (channels 0 .. C - 2 the canvas in the chunk basis,
C - 1 the speed), so :meth:`take_basis` copies a fitted one and a model trained on it starts from the same layout.
Encode: the speed v_k of each chunk (``estimate_pan_speed``), the phases from psi_0 (0; with ``random_phase`` a
uniform draw in [0, R) from the ``generator`` that ``encode`` gets, so that training sees the world at every ring
position), each chunk's frames resampled onto the ring (ring columns no frame of the chunk sees: the temporal mean
of the nearest seen column, around the ring), the chunk basis. Decode: v from the channel mean, the phase from the
recursion, the ring canvas from the basis, every frame sampled from it around the ring (bicubic).
"""
from __future__ import annotations

from typing import Optional

import torch
from einops import rearrange

from opensora.registry import MODELS
from .pan_chunk_pca_vae import PanChunkPCAVideoVAE, estimate_pan_speed, fill_unseen, sample_columns


class RingChunkDecoder:
    """Decodes one batch of videos chunk by chunk, in order, carrying every video's phase (see the module
    docstring); made by :meth:`RingPanChunkPCAVideoVAE.chunk_decoder`."""

    def __init__(self, vae: "RingPanChunkPCAVideoVAE"):
        self.vae, self.phase, self.speed, self.frames = vae, None, None, None
        self.last_canvas = self.last_view = None  # the previous chunk's last shown ring canvas and its view start

    def __call__(self, z_chunk: torch.Tensor, num_frames: Optional[int] = None) -> torch.Tensor:
        vae = self.vae
        num_frames = vae._chunk_frames(z_chunk, num_frames)
        canvas, speed = vae.chunk_canvas(z_chunk)
        if self.phase is None:
            self.phase = torch.zeros_like(speed, dtype=torch.float64)
        else:
            self.phase = torch.remainder(vae.next_phase(self.phase, self.speed, speed, self.frames, num_frames),
                                         canvas.shape[-1])
        self.speed, self.frames = speed, num_frames
        if vae.seam_frames and self.last_canvas is not None:
            canvas = vae.blend_seam(canvas, num_frames, self.last_canvas, self.last_view)
        self.last_canvas = canvas[:, :, -1]
        self.last_view = vae.view_start(speed, self.phase, 1)[:, 0]
        return vae.from_ring(canvas, speed, self.phase, num_frames)


@MODELS.register_module(name="RingPanChunkPCAVideoVAE")
class RingPanChunkPCAVideoVAE(PanChunkPCAVideoVAE):
    """Pan-coded chunk-basis VAE on a world-anchored ring canvas (see the module docstring).

    Args: as :class:`PanChunkPCAVideoVAE`, plus
        random_phase: draw a video's first phase uniformly from ``encode``'s ``generator`` (training: the world at
            every ring position); without it (inference, references) the first phase is 0, as the decoder assumes.
        seam_frames: decoding only: L > 0 continues every chunk from the previous one. The residual r between the
            previous chunk's last shown ring canvas and this chunk's first (on the ring columns the previous last
            frame showed) is added to this chunk's decoded frames j = 0 .. L - 1 with weight 1 - j / L, so frame 0
            continues the previous frame exactly (only the pan moves) and the difference fades out over L frames
            (a chunk-boundary jump becomes a fade; the chunk's own motion is kept). 0 (default) decodes exactly
            the inverse of ``encode``. At most ``micro_frame_size``.
    """

    _wrap = 4  # ring columns repeated on each side before bicubic sampling around the ring

    def __init__(self, from_pretrained: Optional[str] = None, latent_channels: int = 32, patch_size: int = 8,
                 time_factor: int = 4, micro_frame_size: int = 17, micro_batch_size: Optional[int] = None,
                 in_channels: int = 3, margin: int = 16, velocity_scale: float = 0.5,
                 max_speed: Optional[float] = None, speed_step: float = 1 / 32, random_phase: bool = False,
                 seam_frames: int = 0):
        if margin <= 0:
            raise ValueError(f"the ring needs columns outside the view: margin must be > 0, got {margin}")
        if isinstance(seam_frames, bool) or not isinstance(seam_frames, int) or not 0 <= seam_frames <= micro_frame_size:
            raise ValueError(f"seam_frames must be an integer from 0 (no blending) to micro_frame_size="
                             f"{micro_frame_size}, got {seam_frames!r}")
        super().__init__(None, latent_channels, patch_size, time_factor, micro_frame_size, micro_batch_size,
                         in_channels, margin, velocity_scale, max_speed, speed_step)
        self.random_phase, self.seam_frames = bool(random_phase), int(seam_frames)
        if from_pretrained is not None:
            self.load_pretrained(from_pretrained)

    # ---- phases -----------------------------------------------------------------------------------
    def next_phase(self, phase: torch.Tensor, speed: torch.Tensor, next_speed: torch.Tensor, frames: int,
                   next_frames: int) -> torch.Tensor:
        """The phase of the chunk after one with ``phase``, ``speed`` and ``frames`` frames: the content moves
        v (t_last - c) to the chunk's last frame, (v + v') / 2 to the next one's first frame, v' (c - t_first')
        to its middle; the phase moves back by the same amount (B,) float64 (not reduced mod R)."""
        t_last = float(self.frame_times(frames)[-1])
        t_first = float(self.frame_times(next_frames)[0])
        moved = speed.double() * t_last + (speed.double() + next_speed.double()) / 2 - next_speed.double() * t_first
        return phase - moved

    def video_phases(self, speeds: list, frames: list, ring: int, generator: Optional[torch.Generator]) -> list:
        """Phases (B,) float64 in [0, ``ring``) of a video's chunks from their speeds; psi_0 = 0, or with
        ``random_phase`` and a ``generator`` uniform in [0, R)."""
        b = speeds[0].shape[0]
        if self.random_phase and generator is not None:
            phase = (torch.rand(b, generator=generator, dtype=torch.float64) * ring).to(speeds[0].device)
        else:
            phase = torch.zeros(b, dtype=torch.float64, device=speeds[0].device)
        out = [phase]
        for k in range(1, len(speeds)):
            out.append(self.next_phase(out[-1], speeds[k - 1], speeds[k], frames[k - 1], frames[k]))
        return [torch.remainder(p, ring) for p in out]

    # ---- ring canvas ------------------------------------------------------------------------------
    def view_start(self, speed: torch.Tensor, phase: torch.Tensor, frames: int) -> torch.Tensor:
        """(B, frames) float64: the ring column M - v (t - c) + psi (not yet taken mod R) that column 0 of each of a
        chunk's last ``frames`` frames shows; column x shows that + x."""
        return self.margin - self.pan_offsets(speed, frames) + phase.double()[:, None]

    def to_ring(self, chunk: torch.Tensor, speed: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """One chunk (B, 3, r', H, W), its speed and phase (B,) -> the ring canvas (B, 3, r', H, R); ring columns
        no frame of the chunk sees take the nearest seen column's mean, around the ring (``fill_unseen``)."""
        b, c, frames, h, w = chunk.shape
        ring = w + 2 * self.margin
        u = torch.arange(ring, dtype=torch.float64, device=chunk.device)
        x = torch.remainder(u[None, None] - self.view_start(speed, phase, frames)[:, :, None], ring)  # (B, r', R)
        flat = rearrange(chunk, "B C T H W -> (B T) C H W")
        canvas = sample_columns(flat, x.reshape(b * frames, ring).clamp(max=w - 1))
        canvas = rearrange(canvas, "(B T) C H W -> B C T H W", B=b)
        return fill_unseen(canvas, (x <= w - 1 + 1e-6).reshape(b, 1, frames, 1, ring), circular=True)

    def blend_seam(self, canvas: torch.Tensor, num_frames: int, last_canvas: torch.Tensor,
                   last_view: torch.Tensor) -> torch.Tensor:
        """``seam_frames`` blending (see the class docstring). canvas (B, 3, r, H, R) of a chunk whose last
        ``num_frames`` slots are shown; last_canvas (B, 3, H, R) the previous chunk's last shown slot, last_view (B,)
        the ring column its column 0 showed. Returns a new canvas; the residual is 0 on ring columns the previous
        frame did not show, or that its bicubic samples did not reach (``_wrap`` // 2 columns beyond its view)."""
        b, c, r, h, ring = canvas.shape
        w = ring - 2 * self.margin
        first = r - num_frames
        reach = self._wrap // 2  # the bicubic kernel's radius
        u = torch.arange(ring, dtype=torch.float64, device=canvas.device)
        seen = torch.remainder(u[None] - last_view.double()[:, None] + reach, ring) <= w - 1 + 2 * reach  # (B, R)
        residual = (last_canvas - canvas[:, :, first]) * seen[:, None, None].to(canvas.dtype)
        j = torch.arange(num_frames, dtype=canvas.dtype, device=canvas.device)
        weight = (1 - j / self.seam_frames).clamp(min=0)
        out = canvas.clone()
        out[:, :, first:] += weight[None, None, :, None, None] * residual[:, :, None]
        return out

    def from_ring(self, canvas: torch.Tensor, speed: torch.Tensor, phase: torch.Tensor, num_frames: int) -> torch.Tensor:
        """Ring canvas (B, 3, r, H, R) of a full chunk -> its last ``num_frames`` frames (B, 3, num_frames, H, W)."""
        b, c, r, h, ring = canvas.shape
        w = ring - 2 * self.margin
        canvas = canvas[:, :, r - num_frames:]
        k = self._wrap
        wrapped = torch.cat([canvas[..., -k:], canvas, canvas[..., :k]], dim=-1)
        x = torch.arange(w, dtype=torch.float64, device=speed.device)
        u = torch.remainder(self.view_start(speed, phase, num_frames)[:, :, None] + x, ring) + k  # (B, T, W)
        flat = rearrange(wrapped, "B C T H W -> (B T) C H W")
        out = sample_columns(flat, u.reshape(b * num_frames, w))
        return rearrange(out, "(B T) C H W -> B C T H W", B=b)

    # ---- encode / decode --------------------------------------------------------------------------
    def fit_groups(self, chunk: torch.Tensor) -> torch.Tensor:
        """The cells the basis is fitted on: those of the chunk's ring canvas at phase 0."""
        speed = estimate_pan_speed(chunk, self.max_speed, self.speed_step)
        return self.to_groups(self.to_ring(chunk, speed, torch.zeros_like(speed, dtype=torch.float64)))

    def encode(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """x: (B, 3, T, H, W) in [-1, 1] -> z: (B, C, T', H/p, R/p), normalised. The first chunk at phase 0
        (deterministic), or with ``random_phase`` at a phase drawn from ``generator``."""
        self._check(x, self.in_channels, "x")
        x = x.to(self.dtype)
        ring = x.shape[-1] + 2 * self.margin
        chunks = list(x.split(self.micro_frame_size, dim=2))
        speeds = [estimate_pan_speed(c, self.max_speed, self.speed_step) for c in chunks]
        phases = self.video_phases(speeds, [c.shape[2] for c in chunks], ring, generator)
        out = []
        for chunk, speed, phase in zip(chunks, speeds, phases):
            out.append(self.chunk_latents(self.to_groups(self.to_ring(chunk, speed, phase)), speed, chunk.shape[2]))
        return torch.cat(out, dim=2)

    def chunk_decoder(self) -> RingChunkDecoder:
        """A decoder for one batch of videos that takes their chunks in order and carries the phase (``decode``
        uses it over a whole video, from phase 0)."""
        return RingChunkDecoder(self)

    def decode_chunk(self, z_chunk: torch.Tensor, num_frames: Optional[int] = None,
                     phase: Optional[torch.Tensor] = None) -> torch.Tensor:
        """One chunk z: (B, C, n', h, R/p), n' <= n, at ``phase`` (B,) px (default 0: a video's first chunk) ->
        (B, 3, num_frames, p h, R p - 2M); missing latents are 0. Later chunks of a video: :meth:`chunk_decoder`."""
        num_frames = self._chunk_frames(z_chunk, num_frames)
        canvas, speed = self.chunk_canvas(z_chunk)
        if phase is None:
            phase = torch.zeros(z_chunk.shape[0], dtype=torch.float64, device=z_chunk.device)
        return self.from_ring(canvas, speed, phase, num_frames)

    def take_basis(self, pan: PanChunkPCAVideoVAE) -> None:
        """Take a fitted ``PanChunkPCAVideoVAE``'s mean, basis and scales (the same latent layout)."""
        if (pan.patch_size, pan.micro_frame_size, pan.latents_per_chunk, pan.out_channels) != (
                self.patch_size, self.micro_frame_size, self.latents_per_chunk, self.out_channels):
            raise ValueError(f"take_basis needs a PanChunkPCAVideoVAE with the same cells, chunks and channels "
                             f"({self.patch_size} px, {self.out_channels} channels), got patch {pan.patch_size}, "
                             f"{pan.out_channels} channels")
        self.mean.copy_(pan.mean), self.basis.copy_(pan.basis), self.scale.copy_(pan.scale)
