"""Normalisation layers of STDiT3."""
import logging

import torch
from torch import nn

logger = logging.getLogger(__name__)


class RMSNorm(nn.Module):
    """RMS normalisation over the last axis with a learned weight (LLaMA / T5 style), computed in fp32.

    y = w * (x / sqrt(mean(x^2) + eps)), the normalised value cast back to x's dtype before the weight,
    as Open-Sora's ``LlamaRMSNorm`` does.
    """

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


def build_layernorm(dim: int, eps: float = 1e-6, affine: bool = False, use_kernel: bool = False) -> nn.LayerNorm:
    """A LayerNorm; ``use_kernel`` (apex FusedLayerNorm in Open-Sora) only changes the kernel, never the math.

    apex is not part of this project, so the request is logged and torch's LayerNorm is used.
    """
    if use_kernel:
        logger.warning("enable_layernorm_kernel=True: apex FusedLayerNorm is not used here; "
                       "falling back to torch.nn.LayerNorm (same math)")
    return nn.LayerNorm(dim, eps=eps, elementwise_affine=affine)
