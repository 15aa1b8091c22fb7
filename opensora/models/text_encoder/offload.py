"""``text_encoder_offload``: encode every prompt of a run once, then release the encoder.

T5-XXL holds 19 GB in fp32 (9.5 GB in bf16) but is used only to encode the prompts; during the hours of
sampling that memory can go to the DiT's activations instead. :func:`encode_then_offload` encodes all texts
up front (in batches) and returns a :class:`PrecomputedTextEncoder`, a drop-in ``TextEncoder`` whose
``encode`` looks the captions up. ``mode``:

=========  =========================================================================================
``free``   drop the encoder (its memory is released once the caller drops its own reference, e.g.
           ``setup.text_encoder = encode_then_offload(setup.text_encoder, texts)``; then
           ``torch.cuda.empty_cache()``); an unknown prompt later is an error
``cpu``    move the encoder to the CPU; an unknown prompt is encoded there (slowly)
=========  =========================================================================================
"""
from __future__ import annotations

import logging
from typing import Iterable, Sequence

import torch

from .base import TextEncoder

logger = logging.getLogger(__name__)
MODES = ("free", "cpu")


class PrecomputedTextEncoder(TextEncoder):
    """Serves ``encode(prompts)`` from captions encoded beforehand; ``null`` and the sizes as the original."""

    def __init__(self, captions: dict, output_dim: int, model_max_length: int, fallback: TextEncoder | None = None):
        super().__init__()
        self.captions = captions  # raw prompt -> (y (1, L, D) on the CPU, mask (L,) int64)
        self.output_dim, self.model_max_length = output_dim, model_max_length
        self.fallback = fallback

    @torch.no_grad()
    def encode(self, prompts: Sequence[str]) -> dict:
        missing = [p for p in dict.fromkeys(prompts) if p not in self.captions]
        if missing:
            if self.fallback is None:
                raise KeyError(f"{len(missing)} prompt(s) were not encoded before the text encoder was released, "
                               f"e.g. {missing[0]!r}; pass every prompt of the run to encode_then_offload or use "
                               "mode='cpu'")
            self.captions.update(_encode(self.fallback, missing, batch_size=len(missing)))
        y = torch.stack([self.captions[p][0] for p in prompts])
        mask = torch.stack([self.captions[p][1] for p in prompts])
        return dict(y=y, mask=mask)


def _encode(encoder: TextEncoder, texts: list, batch_size: int) -> dict:
    out = {}
    for i in range(0, len(texts), batch_size):
        part = texts[i:i + batch_size]
        encoded = encoder.encode(part)
        for j, text in enumerate(part):
            out[text] = (encoded["y"][j].cpu(), encoded["mask"][j].cpu())
    return out


def encode_then_offload(encoder: TextEncoder, texts: Iterable[str], mode: str = "free",
                        batch_size: int = 8) -> PrecomputedTextEncoder:
    """Encode the distinct ``texts`` (raw prompts, as the pipeline passes them) and release ``encoder``."""
    if mode not in MODES:
        raise ValueError(f"text_encoder_offload mode {mode!r}; use one of {MODES}")
    unique = list(dict.fromkeys(texts))
    captions = _encode(encoder, unique, batch_size)
    logger.info("encoded %d prompt(s); text encoder %s", len(unique), "moved to the CPU" if mode == "cpu" else "freed")
    fallback = encoder.to("cpu") if mode == "cpu" else None
    return PrecomputedTextEncoder(captions, encoder.output_dim, encoder.model_max_length, fallback)


def run_texts(items) -> list:
    """Every distinct text of some ``PromptItem`` timelines (what the pipeline will ask the encoder for)."""
    return list(dict.fromkeys(seg.text for item in items for seg in item.segments))
