"""A tiny deterministic text encoder that needs no download and no weights file.

For tests and the tiny shipped model: the same interface as the T5 wrapper, a fraction of the cost.

1. Tokenize: lower-case words (``\\w+``), each hashed with BLAKE2b (stable across processes, unlike
   Python's salted ``hash``) into ids ``[2, vocab_size)``; then EOS (id 1), truncated to L with the EOS
   kept, and padded with id 0 to L (as T5 does).
2. Embed: a fixed table ``randn(vocab_size, dim)`` from a seeded CPU ``torch.Generator``, plus an
   optional sinusoidal position code so that word order matters. Padded positions are zero.
"""
import hashlib
import math
import re
from typing import Union

import torch

from opensora.registry import MODELS

from opensora.utils.dtype import as_dtype

from .base import TextEncoder

PAD_ID, EOS_ID = 0, 1
_WORD = re.compile(r"\w+")


def word_id(word: str, vocab_size: int) -> int:
    """Stable id of ``word`` in [2, vocab_size)."""
    digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
    return 2 + int.from_bytes(digest, "little") % (vocab_size - 2)


def sinusoid(length: int, dim: int) -> torch.Tensor:
    """(length, dim) sin/cos position code, frequencies 10000^(-2i/dim)."""
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    freqs = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    code = torch.zeros(length, dim, dtype=torch.float64)
    code[:, 0::2] = torch.sin(pos * freqs)
    code[:, 1::2] = torch.cos(pos * freqs)[:, : dim // 2]
    return code.float()


@MODELS.register_module(name="offline_text")
class OfflineTextEncoder(TextEncoder):
    """Hashed-word embeddings with the ``TextEncoder`` interface (see ``base.py``).

    Args:
        dim: output_dim D (the diffusion model's caption_channels).
        model_max_length: caption tokens L.
        vocab_size: hash buckets (collisions are rare for small vocabularies of words).
        seed: seed of the embedding table.
        position: add a sinusoidal position code (word order matters).
    """

    def __init__(self, dim: int = 64, model_max_length: int = 32, vocab_size: int = 32768, seed: int = 0,
                 position: bool = True, device: Union[str, torch.device] = "cpu",
                 dtype: Union[str, torch.dtype] = torch.float32, **preprocess):
        super().__init__(**preprocess)
        if model_max_length < 1 or vocab_size < 3 or dim < 2:
            raise ValueError(f"need model_max_length >= 1, vocab_size >= 3, dim >= 2; got "
                             f"{model_max_length}, {vocab_size}, {dim}")
        self.output_dim, self.model_max_length, self.vocab_size = dim, model_max_length, vocab_size
        table = torch.randn(vocab_size, dim, generator=torch.Generator().manual_seed(seed))
        pos = sinusoid(model_max_length, dim) if position else torch.zeros(model_max_length, dim)
        dtype = as_dtype(dtype)
        self.register_buffer("table", table.to(device, dtype), persistent=False)
        self.register_buffer("position", pos.to(device, dtype), persistent=False)

    def tokenize(self, prompts: list) -> tuple:
        """prompts -> (ids (B, L) int64, mask (B, L) int64)."""
        ids = torch.full((len(prompts), self.model_max_length), PAD_ID, dtype=torch.long)
        for row, prompt in enumerate(prompts):
            words = [word_id(w, self.vocab_size) for w in _WORD.findall(prompt.lower())]
            seq = words[: self.model_max_length - 1] + [EOS_ID]
            ids[row, : len(seq)] = torch.tensor(seq)
        return ids, (ids != PAD_ID).long()

    def embed(self, prompts: list) -> tuple:
        ids, mask = self.tokenize(prompts)
        ids, mask = ids.to(self.table.device), mask.to(self.table.device)
        states = (self.table[ids] + self.position) * mask[..., None].to(self.table.dtype)
        return states, mask
