"""Captions per chunk (multi-prompt timelines) and the guided ``denoise(z, t, latent_index)`` function.

=============  ===========================================================================
U              distinct prompt texts of the batch, encoded once
y, mask        encoded captions (U, 1, L, D) and (U, L)
table          (B, N) index into y: the caption of chunk c of sample b (the timeline's prompt at
               the chunk's start second, ``c * chunk_frames / fps``)
window caption the caption of the window's newest chunk: a prompt change applies to the chunks that
               enter the window after its start time, and to every window from then on
=============  ===========================================================================
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from opensora.schedulers.guidance import cfg_velocity

from .prompts import PromptItem


@dataclass(frozen=True)
class CaptionTable:
    y: torch.Tensor
    mask: torch.Tensor
    table: torch.Tensor
    chunk_size: int

    def for_window(self, latent_index: torch.Tensor) -> tuple:
        """(y (B, 1, L, D), mask (B, L)) of the window whose latents are ``latent_index`` (T,)."""
        newest = int(latent_index[-1]) // self.chunk_size
        rows = self.table[:, newest]
        return self.y[rows], self.mask[rows]


def chunk_texts(items: Sequence[PromptItem], num_chunks: int, chunk_seconds: float) -> list:
    """Per sample, the prompt text of each chunk: ``text_at(c * chunk_seconds)``."""
    return [[item.text_at(c * chunk_seconds) for c in range(num_chunks)] for item in items]


def encode_captions(text_encoder, items: Sequence[PromptItem], *, num_chunks: int, chunk_size: int,
                    chunk_seconds: float, device=None) -> CaptionTable:
    """Encode every distinct prompt of the batch once and index them per (sample, chunk)."""
    texts = chunk_texts(items, num_chunks, chunk_seconds)
    unique = list(dict.fromkeys(t for row in texts for t in row))
    encoded = text_encoder.encode(unique)
    lookup = {t: i for i, t in enumerate(unique)}
    table = torch.tensor([[lookup[t] for t in row] for row in texts], dtype=torch.long)
    return CaptionTable(encoded["y"].to(device), encoded["mask"].to(device), table, chunk_size)


def make_denoiser(model: Callable, captions: CaptionTable, y_null: torch.Tensor, guidance_scale: float,
                  **model_kwargs) -> Callable:
    """``denoise(z, t, latent_index) -> v``: one CFG model call on [z; z] with [caption; null caption].

    Args:
        model: STDiT3-like ``model(x, t, y=..., mask=..., **model_kwargs) -> (2B, >= C_z, T, h, w)``.
        y_null: (B, 1, L, D) null captions (``text_encoder.null(B, model)``).
        model_kwargs: e.g. fps, height, width (pixel sizes of the window).
    """

    def denoise(z: torch.Tensor, t: torch.Tensor, latent_index: torch.Tensor) -> torch.Tensor:
        y, mask = captions.for_window(latent_index)
        return cfg_velocity(model, z, t, y, y_null, guidance_scale, mask=mask, **model_kwargs)

    return denoise
