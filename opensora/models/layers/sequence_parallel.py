"""Sequence parallelism for STDiT3: the spatial tokens of every latent frame are split over an SP group.

Notation
========
K      ranks in the SP group; k this rank's index in it
B, T   batch and latent frames (token frames T'); H heads, D head dim, C = H D
S      real tokens per frame; S_pad = ceil(S / K) K; S_loc = S_pad / K tokens per frame on each rank

What runs where (Ulysses style, as Open-Sora v1.2's sequence-parallel STDiT3):

1. Embedding, timesteps and captions are computed on every rank. The tokens (B, T, S, C) are zero-padded to
   S_pad and rank k keeps tokens [k S_loc, (k + 1) S_loc) of every frame (:meth:`TokenShard.split`).
2. Spatial self-attention (:func:`spatial_self_attention`): q, k, v for the local tokens and all H heads;
   one all-to-all scatters heads and gathers tokens, so each rank attends over all S_pad tokens of every
   frame with H / K heads (padding keys masked out); a second all-to-all returns to local tokens, all heads.
3. Spatial cross-attention splits over heads (:func:`head_parallel_cross_attention`): queries all-to-all as
   in 2, each rank projects K/V for its own H / K heads only, and the outputs all-to-all back.
4. Temporal blocks (attention across frames at one spatial position, their cross-attention), the per-frame
   adaLN modulation (B, T, 1, C) and the MLPs are per token: they run on the local tokens unchanged.
5. The final layer runs on the local tokens; its (B, T, S_loc, p C_out) output is gathered once
   (:meth:`TokenShard.gather`) and the padding cropped, so every rank returns the full prediction.

The padding tokens never influence a real token: they are masked as keys in step 2, queries are
independent in every other step, and their outputs are cropped in step 5. Results therefore equal the
single-process forward up to float round-off (summation order inside the attention kernels).
Gradients follow the convention in :mod:`opensora.acceleration.communications`; the groups come from
:mod:`opensora.acceleration.parallel_states`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F
from einops import rearrange

from opensora.acceleration.communications import (
    all_to_all,
    gather_forward_split_backward,
    split_forward_gather_backward,
)

from .attention import Attention, MultiHeadCrossAttention, self_attention_kernel


def check_heads(num_heads: int, sp_size: int) -> None:
    """Heads are split over the group, so K must divide H (ValueError naming the values and the fix)."""
    if num_heads % sp_size:
        valid = [k for k in range(1, num_heads + 1) if num_heads % k == 0]
        raise ValueError(f"num_heads {num_heads} is not divisible by sp_size {sp_size}: sequence parallelism "
                         f"splits the attention heads over the group; use sp_size in {valid}")


@dataclass(frozen=True)
class TokenShard:
    """How the S tokens of each frame are laid out over the SP group (see the module notation)."""

    group: dist.ProcessGroup
    size: int
    rank: int
    num_tokens: int

    @classmethod
    def for_group(cls, group: dist.ProcessGroup, num_tokens: int, num_heads: int) -> "TokenShard":
        size = dist.get_world_size(group)
        check_heads(num_heads, size)
        return cls(group, size, dist.get_rank(group), num_tokens)

    @property
    def padded(self) -> int:
        return -(-self.num_tokens // self.size) * self.size

    @property
    def local(self) -> int:
        return self.padded // self.size

    def key_mask(self, device) -> Optional[torch.Tensor]:
        """(S_pad,) bool, False on the padding tokens; None when S divides."""
        if self.padded == self.num_tokens:
            return None
        return torch.arange(self.padded, device=device) < self.num_tokens

    def split(self, h: torch.Tensor) -> torch.Tensor:
        """(B, T, S, C) on every rank -> this rank's (B, T, S_loc, C)."""
        h = F.pad(h, (0, 0, 0, self.padded - self.num_tokens))
        return split_forward_gather_backward(h, self.group, dim=2)

    def gather(self, h: torch.Tensor) -> torch.Tensor:
        """(B, T, S_loc, X) from every rank -> (B, T, S, X) on every rank (padding cropped)."""
        return gather_forward_split_backward(h, self.group, dim=2)[:, :, : self.num_tokens]

    def heads(self, num_heads: int) -> slice:
        """This rank's heads in the head-parallel steps."""
        per_rank = num_heads // self.size
        return slice(self.rank * per_rank, (self.rank + 1) * per_rank)


def spatial_self_attention(attn: Attention, h: torch.Tensor, shard: TokenShard) -> torch.Tensor:
    """Step 2 of the module docstring. h: (B T', S_loc, C) -> (B T', S_loc, C)."""
    qkv = torch.stack(attn.project_qkv(h))                                  # (3, N, H, S_loc, D)
    qkv = all_to_all(qkv, shard.group, scatter_dim=2, gather_dim=3)         # (3, N, H / K, S_pad, D)
    out = self_attention_kernel(*qkv.unbind(0), use_flash=attn.enable_flash_attn,
                                key_mask=shard.key_mask(h.device))
    out = all_to_all(out, shard.group, scatter_dim=2, gather_dim=1)         # (N, H, S_loc, D)
    return attn.project_out(out)


def head_parallel_cross_attention(cross: MultiHeadCrossAttention, x: torch.Tensor, cond: torch.Tensor,
                                  cond_mask: torch.Tensor, shard: TokenShard) -> torch.Tensor:
    """Step 3 of the module docstring. x: (B, T', S_loc, C); cond: (B, L, C); cond_mask: (B, L) -> like x.

    The all-to-all gathers the tokens of every frame in rank order; cross-attention treats queries
    independently, so that order only has to be undone by the second all-to-all.
    """
    b, t = x.shape[:2]
    q = cross.project_q(rearrange(x, "b t s c -> b (t s) c"))
    q = rearrange(q, "b h (t s) d -> b h t s d", t=t)
    q = all_to_all(q, shard.group, scatter_dim=1, gather_dim=3)              # (B, H / K, T', S_pad, D)
    k, v = cross.project_kv(cond, heads=shard.heads(cross.num_heads))      # (B, H / K, L, D) each
    out = cross.attend(rearrange(q, "b h t s d -> b h (t s) d"), k, v, cond_mask)
    out = rearrange(out, "b h (t s) d -> b h t s d", t=t)
    out = all_to_all(out, shard.group, scatter_dim=3, gather_dim=1)          # (B, H, T', S_loc, D)
    return cross.project_out(rearrange(out, "b h t s d -> b h (t s) d")).reshape(b, t, -1, x.shape[-1])
