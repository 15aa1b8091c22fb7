"""Rotary position embedding for the temporal attention (rotary_embedding_torch 0.5.3 semantics).

Notation: D = head dim, T = number of latent frames in the current input, positions p = 0..T-1.

1. freqs_i = 1 / theta^(2i / D), i < D/2 (the ``rope.freqs`` weight, kept for key compatibility).
2. angle[p, 2i] = angle[p, 2i + 1] = p * freqs_i (interleaved, GPT-J style), computed in ``freqs``' dtype:
   once the model is cast to bf16 the angles are bf16-rounded, exactly as in the reference.
3. Each adjacent channel pair rotates: (x0, x1) -> (x0 cos - x1 sin, x1 cos + x0 sin).
"""
import torch
from einops import rearrange, repeat
from torch import nn


def rope_frequencies(dim: int, theta: float = 10000.0) -> torch.Tensor:
    """freqs_i = 1 / theta^(2i / dim), shape (dim // 2,), fp32."""
    return 1.0 / (theta ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim))


class RotaryEmbedding(nn.Module):
    """Holds ``freqs`` (a frozen parameter, as in rotary_embedding_torch) and builds (cos, sin) tables."""

    def __init__(self, dim: int, theta: float = 10000.0):
        super().__init__()
        if dim % 2:
            raise ValueError(f"RoPE needs an even head dim, got {dim}")
        self.dim, self.theta = dim, theta
        self.freqs = nn.Parameter(rope_frequencies(dim, theta), requires_grad=False)

    @torch.no_grad()
    def reset_freqs(self) -> None:
        """Recompute ``freqs`` (used when a checkpoint lacks ``rope.freqs`` or after meta-device init)."""
        self.freqs.copy_(rope_frequencies(self.dim, self.theta).to(self.freqs))

    def forward(self, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(cos, sin), each (length, dim), in ``freqs``' dtype, for positions 0..length-1."""
        freqs = self.freqs.detach()  # frozen even if a loader re-wraps the parameter as trainable
        pos = torch.arange(length, device=freqs.device, dtype=freqs.dtype)
        angles = repeat(pos[:, None] * freqs[None], "n d -> n (d r)", r=2)
        return angles.cos(), angles.sin()


def rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...) over the last axis."""
    pairs = rearrange(x, "... (d r) -> ... d r", r=2)
    x0, x1 = pairs.unbind(-1)
    return rearrange(torch.stack((-x1, x0), dim=-1), "... d r -> ... (d r)")


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x: (..., L, D) by position; cos/sin: (L, D)."""
    return x * cos + rotate_pairs(x) * sin
