"""Self- and cross-attention of STDiT3 (Open-Sora v1.2 ``Attention`` / ``MultiHeadCrossAttention``).

Kernels: ``torch.nn.functional.scaled_dot_product_attention`` (SDPA) everywhere by default. flash-attn is
used for self-attention only when ``enable_flash_attn`` is set, the package imports, the tensors are on
CUDA and in fp16/bf16; otherwise SDPA. All kernels use the default scale D^-0.5 and no causal mask.
"""
import functools

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .norm import RMSNorm
from .rope import apply_rope


@functools.lru_cache(maxsize=1)
def _flash_attn_func():
    """flash_attn.flash_attn_func, or None when flash-attn is not installed (always on CPU machines)."""
    try:
        from flash_attn import flash_attn_func
    except ImportError:
        return None
    return flash_attn_func


def _use_flash(q: torch.Tensor, enabled: bool) -> bool:
    return enabled and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16) and _flash_attn_func() is not None


def self_attention_kernel(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, use_flash: bool = False,
                          key_mask: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(q k^T / sqrt(D)) v over the L axis. q, k, v: (N, heads, L, D) -> (N, heads, L, D).

    key_mask: (L,) bool, False = a padding key that gets exactly zero weight (sequence-parallel padding);
    with a mask the SDPA kernel is used.
    """
    if key_mask is not None:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask[None, :])
    if _use_flash(q, use_flash):
        out = _flash_attn_func()(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return out.transpose(1, 2)
    return F.scaled_dot_product_attention(q, k, v)


class Attention(nn.Module):
    """Multi-head self-attention over the L axis of x: (N, L, C).

    Steps: 1. qkv projection, rows [q | k | v], each head-major; 2. per-head RMSNorm on q and k (``qk_norm``);
    3. RoPE on q and k when ``rope`` = (cos, sin) is given (temporal blocks); 4. softmax attention; 5. proj.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, qk_norm: bool = False,
                 enable_flash_attn: bool = False):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"hidden size {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.enable_flash_attn = enable_flash_attn
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.q_norm = RMSNorm(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm = RMSNorm(self.head_dim) if qk_norm else nn.Identity()
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        q, k, v = self.project_qkv(x, rope)
        return self.project_out(self_attention_kernel(q, k, v, use_flash=self.enable_flash_attn))

    def project_qkv(self, x: torch.Tensor, rope=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Steps 1-3: x (N, L, C) -> q, k, v, each (N, heads, L, D)."""
        q, k, v = rearrange(self.qkv(x), "n l (three h d) -> three n h l d", three=3, h=self.num_heads).unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        return q, k, v

    def project_out(self, out: torch.Tensor) -> torch.Tensor:
        """Step 5: per-head outputs (N, heads, L, D) -> (N, L, C)."""
        return self.proj(rearrange(out, "n h l d -> n l (h d)"))


class MultiHeadCrossAttention(nn.Module):
    """Cross-attention from video tokens to caption tokens, block-diagonal per sample.

    x: (B, N, C) queries; cond: (B, L, C) caption tokens; cond_mask: (B, L) bool, True = a valid token.
    Sample b attends only to its own valid tokens (xformers ``BlockDiagonalMask`` semantics of the
    reference); masked tokens get exactly zero weight.
    """

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"hidden size {dim} is not divisible by num_heads {num_heads}")
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.q_linear = nn.Linear(dim, dim)
        self.kv_linear = nn.Linear(dim, dim * 2)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, cond_mask: torch.Tensor) -> torch.Tensor:
        k, v = self.project_kv(cond)
        return self.project_out(self.attend(self.project_q(x), k, v, cond_mask))

    def project_q(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, N, C) -> queries (B, heads, N, D)."""
        return rearrange(self.q_linear(x), "b n (h d) -> b h n d", h=self.num_heads)

    def project_kv(self, cond: torch.Tensor, heads: slice | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """cond (B, L, C) -> k, v, each (B, h, L, D), for the heads ``heads`` (all by default).

        With ``heads`` only the rows of ``kv_linear`` that belong to those heads are multiplied
        (head-parallel cross-attention); the rows are [k | v], each head-major.
        """
        weight, bias = self.kv_linear.weight, self.kv_linear.bias
        if heads is not None:
            rows = torch.arange(weight.shape[0], device=weight.device).view(2, self.num_heads, -1)[:, heads]
            weight, bias = weight[rows.flatten()], bias[rows.flatten()]
        kv = rearrange(F.linear(cond, weight, bias), "b l (two h d) -> two b h l d", two=2, d=self.head_dim)
        return kv[0], kv[1]

    @staticmethod
    def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cond_mask: torch.Tensor) -> torch.Tensor:
        """Per-sample attention: q (B, h, N, D), k/v (B, h, L, D), cond_mask (B, L) -> (B, h, N, D)."""
        return F.scaled_dot_product_attention(q, k, v, attn_mask=cond_mask[:, None, None, :])

    def project_out(self, out: torch.Tensor) -> torch.Tensor:
        """(B, heads, N, D) -> (B, N, C)."""
        return self.proj(rearrange(out, "b h n d -> b n (h d)"))
