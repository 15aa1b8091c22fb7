"""Embedding layers of STDiT3: patches, timesteps (per frame), captions and the 2-D position embedding."""
import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .mlp import Mlp, approx_gelu


class PatchEmbed3D(nn.Module):
    """Video to patch tokens with a Conv3d (kernel = stride = patch).

    x: (B, C_in, T, H, W) -> (B, T', H' * W', C), where T' = ceil(T / p_t) etc.: T, H and W are zero-padded
    at the end to multiples of the patch. Tokens within a frame are ordered (h, w), row-major.
    """

    def __init__(self, patch_size: tuple[int, int, int], in_channels: int, hidden_size: int):
        super().__init__()
        self.patch_size = tuple(patch_size)
        self.proj = nn.Conv3d(in_channels, hidden_size, kernel_size=self.patch_size, stride=self.patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = [(-size) % p for size, p in zip(x.shape[2:], self.patch_size)]  # (t, h, w)
        x = F.pad(x, (0, pads[2], 0, pads[1], 0, pads[0]))
        return rearrange(self.proj(x), "b c t h w -> b t (h w) c")


def timestep_sinusoid(t: torch.Tensor, dim: int = 256, max_period: float = 10000.0) -> torch.Tensor:
    """GLIDE/DiT sinusoid ordered [cos, sin]: t (...) -> (..., dim), fp32.

    f_j = exp(-ln(max_period) * j / (dim / 2)), j < dim / 2; emb = [cos(t f), sin(t f)] on the raw t.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half).to(t.device)
    args = t.float()[..., None] * freqs
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return F.pad(emb, (0, dim % 2))


class TimestepEmbedder(nn.Module):
    """Scalar values (timesteps or fps) to vectors: sinusoid -> Linear -> SiLU -> Linear.

    t: any shape, e.g. (B, T) per-frame timesteps -> (*t.shape, C). The sinusoid is computed in fp32 from
    t as given (callers cast timesteps to the weight dtype first, as the reference does) and then cast to
    the weight dtype.
    """

    def __init__(self, hidden_size: int, frequency_embedding_size: int = 256):
        super().__init__()
        self.frequency_embedding_size = frequency_embedding_size
        self.mlp = nn.Sequential(
            nn.Linear(frequency_embedding_size, hidden_size),
            nn.SiLU(),
            nn.Linear(hidden_size, hidden_size),
        )

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        freq = timestep_sinusoid(t, self.frequency_embedding_size)
        return self.mlp(freq.to(self.mlp[0].weight.dtype))


class CaptionEmbedder(nn.Module):
    """Projects T5 states to the hidden size; holds the CFG null caption ``y_embedding``.

    caption: (B, 1, L, C_text) -> (B, 1, L, C). ``drop`` (B,) bool replaces sample b's caption by
    ``y_embedding`` *before* the projection (classifier-free-guidance dropout); the caller decides it.
    """

    def __init__(self, in_channels: int, hidden_size: int, token_num: int):
        super().__init__()
        self.y_proj = Mlp(in_channels, hidden_size, hidden_size, act_layer=approx_gelu)
        self.register_buffer("y_embedding", torch.randn(token_num, in_channels) / in_channels**0.5)

    def forward(self, caption: torch.Tensor, drop: torch.Tensor | None = None) -> torch.Tensor:
        if drop is not None:
            if caption.shape[2:] != self.y_embedding.shape:
                length, width = self.y_embedding.shape
                raise ValueError(f"caption dropout needs y of shape (B, 1, {length}, {width}) to swap in the "
                                 f"null caption, got {tuple(caption.shape)}")
            caption = torch.where(drop[:, None, None, None], self.y_embedding.to(caption.dtype), caption)
        return self.y_proj(caption)


class PositionEmbedding2D(nn.Module):
    """Open-Sora v1.2 2-D sin-cos embedding added to every frame (no temporal absolute embedding).

    Notation: C = dim, (h, w) = token grid, s = ``scale``, b = ``base_size``.
    1. inv_freq_i = 10000^(-2i / (C/2)), i < C/4 (a non-persistent buffer; see ``reset_inv_freq``).
    2. row r -> r / s * b / h, column c -> c / s * b / w.
    3. emb = [sin(col w), cos(col w), sin(row w), cos(row w)]: the first C/2 dims encode the column.
    Computed in fp32 (with the buffer's values, which are bf16-rounded once the model is cast, as in the
    reference), returned as (h * w, C) fp32.
    """

    def __init__(self, dim: int):
        super().__init__()
        if dim % 4:
            raise ValueError(f"the 2-D position embedding needs a hidden size divisible by 4, got {dim}")
        self.dim = dim
        self.register_buffer("inv_freq", self._inv_freq(), persistent=False)

    def _inv_freq(self) -> torch.Tensor:
        half = self.dim // 2
        return 1.0 / (10000 ** (torch.arange(0, half, 2).float() / half))

    @torch.no_grad()
    def reset_inv_freq(self) -> None:
        """Recompute the buffer: non-persistent buffers are not in checkpoints (see deps-notes §7)."""
        self.inv_freq.copy_(self._inv_freq().to(self.inv_freq))

    def _sin_cos(self, pos: torch.Tensor) -> torch.Tensor:
        out = pos[:, None] * self.inv_freq.float()[None]
        return torch.cat([out.sin(), out.cos()], dim=-1)

    def forward(self, h: int, w: int, scale: float = 1.0, base_size: int | None = None) -> torch.Tensor:
        device = self.inv_freq.device
        rows = torch.arange(h, device=device) / scale
        cols = torch.arange(w, device=device) / scale
        if base_size is not None:
            rows, cols = rows * (base_size / h), cols * (base_size / w)
        rows, cols = rows.repeat_interleave(w), cols.repeat(h)  # token (r, c) at index r * w + c
        return torch.cat([self._sin_cos(cols), self._sin_cos(rows)], dim=-1)
