"""The text-encoder interface shared by the T5 wrapper and the offline encoder.

| name | shape / type | meaning |
|---|---|---|
| B | int | prompts in the batch |
| L | ``model_max_length`` | caption tokens (padded) |
| D | ``output_dim`` | caption channels (the diffusion model's ``caption_channels``) |
| y | (B, 1, L, D) float | token states |
| mask | (B, L) int64 | 1 for valid tokens, 0 for padding |
"""
from typing import Optional, Sequence

import torch
from torch import nn

from .text_cleaning import preprocess_prompts


class TextEncoder(nn.Module):
    """Base class: ``encode(prompts)`` and ``null(n, model)``; subclasses implement ``embed``.

    Prompt preprocessing is off by default (training captions are used as they are). Open-Sora's
    inference preprocessing is ``clean_prompts=True, aes=6.5``: append " aesthetic score: 6.5."
    (and ``flow`` / ``camera_motion`` suffixes when given), then clean twice.
    """

    output_dim: int
    model_max_length: int

    def __init__(self, clean_prompts: bool = False, aes: Optional[float] = None, flow: Optional[float] = None,
                 camera_motion: Optional[str] = None):
        super().__init__()
        self.preprocess_kwargs = dict(clean=clean_prompts, aes=aes, flow=flow, camera_motion=camera_motion)

    def preprocess(self, prompts: Sequence[str]) -> list:
        if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
            raise TypeError(f"prompts must be a list of strings, got {type(prompts).__name__}: {prompts!r:.80}")
        return preprocess_prompts(prompts, **self.preprocess_kwargs)

    def embed(self, prompts: list) -> tuple:
        """prompts -> (states (B, L, D), mask (B, L) int64)."""
        raise NotImplementedError

    @torch.no_grad()
    def encode(self, prompts: Sequence[str]) -> dict:
        """prompts -> dict(y=(B, 1, L, D), mask=(B, L) int64)."""
        states, mask = self.embed(self.preprocess(prompts))
        return dict(y=states[:, None], mask=mask)

    def null(self, n: int, model: nn.Module) -> torch.Tensor:
        """The CFG null caption, ``model.y_embedder.y_embedding`` (L, D) repeated to (n, 1, L, D).

        ``model`` is the diffusion model (or a wrapper with ``.module``); nothing is stored here.
        """
        embedder = getattr(model, "y_embedder", None) or getattr(getattr(model, "module", None), "y_embedder", None)
        if embedder is None or not hasattr(embedder, "y_embedding"):
            raise AttributeError(f"{type(model).__name__} has no y_embedder.y_embedding; pass the diffusion model")
        table = embedder.y_embedding
        if tuple(table.shape) != (self.model_max_length, self.output_dim):
            raise ValueError(f"y_embedding is {tuple(table.shape)} but this encoder gives "
                             f"({self.model_max_length}, {self.output_dim}); match model_max_length and "
                             "caption_channels to the text encoder")
        return table[None, None].expand(n, 1, -1, -1).clone()
