"""What every video VAE of the project shares: 17-frame micro-chunks <-> 5 latents, the size arithmetic, chunk-wise
decoding and strict loading. ``OpenSoraVAE_V1_2`` and ``PCAVideoVAE`` differ only in how one chunk is coded."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional, Sequence

import torch

from opensora.utils.ckpt import load_state_dict, load_weights_strict, resolve_weights, save_safetensors

logger = logging.getLogger(__name__)


class ChunkedVideoVAE:
    """Mixin for an ``nn.Module`` VAE that codes each ``micro_frame_size``-frame chunk independently.

    The class provides ``micro_frame_size``, ``latents_per_chunk``, ``out_channels``, the properties
    ``time_factor`` (frames per latent; a chunk of r frames is front-padded to a multiple of it) and
    ``spatial_factor`` (pixels per latent cell side), ``micro_batch_size``, an ``arch`` dict of constructor
    arguments (recorded by ``save_pretrained``) and ``decode_chunk(z_chunk, num_frames)``.
    """

    micro_frame_size: int
    latents_per_chunk: int
    out_channels: int

    # ---- sizes ------------------------------------------------------------------------------------
    def latent_frames(self, num_frames: int) -> int:
        """Latent frames for ``num_frames`` video frames: (T // 17) * 5 + ceil((T mod 17) / 4)."""
        if num_frames < 0:
            raise ValueError(f"num_frames must be >= 0, got {num_frames}")
        full, rest = divmod(num_frames, self.micro_frame_size)
        return full * self.latents_per_chunk + -(-rest // self.time_factor)

    def get_latent_size(self, input_size: Sequence[Optional[int]]) -> list:
        """[T, H, W] -> [T', H // s, W // s] (s = ``spatial_factor``); ``None`` entries stay ``None``."""
        if len(input_size) != 3:
            raise ValueError(f"input_size must be [T, H, W], got {input_size}")
        t, h, w = input_size
        s = self.spatial_factor
        return [None if t is None else self.latent_frames(t),
                None if h is None else h // s, None if w is None else w // s]

    def latent_frame_starts(self) -> list:
        """Frame offsets inside a full chunk where each latent's frames begin: [0, 1, 5, 9, 13] for 17 <-> 5.

        The last n - 1 latents hold ``time_factor`` frames each; the first holds the rest (one frame for 17 =
        1 + 4 x 4: Open-Sora's causal first latent, the PCA VAE's padded first group). A decoded video can only
        jump between these groups, so they are where the evaluation looks for seams (tools/eval/seams.py).
        """
        n, f = self.latents_per_chunk, self.time_factor
        first = self.micro_frame_size - f * (n - 1)
        if first < 1:
            raise ValueError(f"micro_frame_size={self.micro_frame_size} is too short for {n} latents of "
                             f"{f} frames; use at least {f * (n - 1) + 1}")
        return [0] + [first + f * k for k in range(n - 1)]

    def chunk_frame_counts(self, num_latents: int, num_frames: Optional[int] = None) -> list:
        """Frames decoded from each ``latents_per_chunk`` slice of ``num_latents`` latents.

        Without ``num_frames`` full chunks give ``micro_frame_size`` frames and a partial chunk of n
        latents gives ``time_factor * n``.
        """
        if num_frames is None:
            full, rest = divmod(num_latents, self.latents_per_chunk)
            tail = min(self.micro_frame_size, rest * self.time_factor)
            return [self.micro_frame_size] * full + ([tail] if rest else [])
        if self.latent_frames(num_frames) != num_latents:
            raise ValueError(f"num_frames={num_frames} encodes to {self.latent_frames(num_frames)} latents, "
                             f"but z has {num_latents}; pass the frame count that was encoded")
        full, rest = divmod(num_frames, self.micro_frame_size)
        return [self.micro_frame_size] * full + ([rest] if rest else [])

    # ---- decode -----------------------------------------------------------------------------------
    def _check(self, t: torch.Tensor, channels: int, what: str) -> None:
        if t.ndim != 5 or t.shape[1] != channels:
            raise ValueError(f"{what} must be (B, {channels}, T, H, W), got {tuple(t.shape)}")

    def _chunk_frames(self, z_chunk: torch.Tensor, num_frames: Optional[int]) -> int:
        """Validate one chunk's latents and return the frames to decode from it."""
        self._check(z_chunk, self.out_channels, "z_chunk")
        n = z_chunk.shape[2]
        if not 0 < n <= self.latents_per_chunk:
            raise ValueError(f"a chunk holds 1..{self.latents_per_chunk} latents, got {n}; use decode()")
        num_frames = num_frames if num_frames is not None else self.chunk_frame_counts(n)[0]
        if num_frames > self.micro_frame_size:
            raise ValueError(f"num_frames={num_frames} exceeds micro_frame_size={self.micro_frame_size}")
        f = self.time_factor
        if not (n - 1) * f < num_frames <= n * f:
            raise ValueError(f"num_frames={num_frames} does not fit {n} latents (expected {(n - 1) * f + 1}..{n * f}); "
                             "pass the frame count that was encoded")
        return num_frames

    def chunk_decoder(self):
        """A function that decodes one batch of videos' chunks taken in order, ``(z_chunk, num_frames=None) ->
        frames``: here ``decode_chunk``, the chunks being independent; a VAE whose decoding carries state from
        chunk to chunk (``RingPanChunkPCAVideoVAE``: the ring phase) returns a fresh stateful one per call."""
        return self.decode_chunk

    def decode(self, z: torch.Tensor, num_frames: Optional[int] = None) -> torch.Tensor:
        """z: (B, C, T', h, w) -> x: (B, 3, num_frames, s h, s w), one ``latents_per_chunk`` slice at a time, in
        order, through :meth:`chunk_decoder`."""
        self._check(z, self.out_channels, "z")
        counts = self.chunk_frame_counts(z.shape[2], num_frames)
        chunks = z.split(self.latents_per_chunk, dim=2)
        decode = self.chunk_decoder()
        return torch.cat([decode(c, n) for c, n in zip(chunks, counts)], dim=2)

    # ---- weights ----------------------------------------------------------------------------------
    def save_pretrained(self, directory, extra: Optional[dict] = None) -> Path:
        """Write ``directory/model.safetensors`` and a ``config.json`` recording the architecture (``self.arch``)
        and ``extra`` (e.g. a fit report).

        Loading reads only the weights: build the same architecture (e.g. the same registered ``type``)
        and pass ``from_pretrained=directory``.
        """
        directory = Path(directory)
        path = save_safetensors(self, directory / "model.safetensors")
        config = dict(architectures=[type(self).__name__], micro_batch_size=self.micro_batch_size, **self.arch,
                      **(extra or {}))
        (directory / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        return path

    def load_pretrained(self, source) -> None:
        """Load a Hub id, snapshot directory or weights file strictly (keys and shapes must match)."""
        path = resolve_weights(source)
        load_weights_strict(self, load_state_dict(path))
        logger.info("loaded %s weights from %s", type(self).__name__, path)


def latent_slot_rms(z: torch.Tensor, latents_per_chunk: int, skip_chunks: int = 0) -> torch.Tensor:
    """Root mean square of latents z (B, C, T, h, w) per channel and **slot** (the position of a latent inside
    its chunk): (C, latents_per_chunk) float64, over batch, chunks and cells. T must be whole chunks;
    ``skip_chunks`` leaves the first chunks out (e.g. the given clip of an extension)."""
    if z.ndim != 5:
        raise ValueError(f"latents must be (B, C, T, h, w), got shape {tuple(z.shape)}")
    b, c, frames, h, w = z.shape
    if frames % latents_per_chunk:
        raise ValueError(f"{frames} latent frames are not whole chunks of {latents_per_chunk}; "
                         "encode whole 17-frame chunks")
    chunks = frames // latents_per_chunk
    if not 0 <= skip_chunks < chunks:
        raise ValueError(f"skip_chunks must be in 0..{chunks - 1} for {chunks} chunks, got {skip_chunks}")
    z = z.detach().double().reshape(b, c, chunks, latents_per_chunk, h, w)[:, :, skip_chunks:]
    return z.pow(2).mean(dim=(0, 2, 4, 5)).sqrt()
