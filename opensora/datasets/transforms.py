"""Pixel transforms for training clips."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange


def resize_crop(frames: np.ndarray | torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize to cover ``size`` (keeping the aspect ratio), centre-crop, and scale to [-1, 1].

    Args:
        frames: (T, H, W, 3) uint8, RGB.
        size: (height, width) of the output.

    Returns:
        (3, T, height, width) float32 in [-1, 1] (the VAE's input range).
    """
    out_h, out_w = int(size[0]), int(size[1])
    if out_h < 1 or out_w < 1:
        raise ValueError(f"image size must be positive (height, width), got {size}")
    x = torch.as_tensor(np.asarray(frames))
    if x.dim() != 4 or x.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3) RGB, got shape {tuple(x.shape)}")
    x = rearrange(x, "t h w c -> t c h w").float()
    in_h, in_w = x.shape[-2:]
    scale = max(out_h / in_h, out_w / in_w)  # cover the target, then crop the excess
    new_h, new_w = max(out_h, round(in_h * scale)), max(out_w, round(in_w * scale))
    if (new_h, new_w) != (in_h, in_w):
        x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
    top, left = (new_h - out_h) // 2, (new_w - out_w) // 2
    x = x[:, :, top:top + out_h, left:left + out_w]
    x = (x / 127.5 - 1.0).clamp(-1.0, 1.0)
    return rearrange(x, "t c h w -> c t h w").contiguous()
