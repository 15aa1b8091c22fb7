"""Open-Sora v1.2 temporal VAE: 4 -> 4 latent channels, x4 time compression, no spatial change.

Written for this project from the published architecture facts (hpcaitech/Open-Sora
``opensora/models/vae/vae_temporal.py``, ``VAE_Temporal_SD``); state-dict keys and shapes match
the ``temporal_vae.*`` entries of ``hpcai-tech/OpenSora-VAE-v1.2`` exactly.

Notation (all tensors are (B, C, T, H, W)):

| symbol | meaning |
|---|---|
| f | time compression, ``2 ** sum(temporal_downsample)`` (4) |
| T | input frames (spatial-VAE latents); T' = ceil(T / f) latents |

Facts that the checkpoint requires:

1. Every convolution is causal in time: ``(k_t - 1) + (1 - stride_t)`` zero frames in front, none at the
   back; H and W are padded symmetrically.
2. GroupNorm on 5-D tensors pools over all frames of the input, so a chunk is one unit: the model is
   *not* causal within a chunk. Callers encode and decode one chunk at a time.
3. Encode front-pads T with zeros to a multiple of f; decode returns f * T' frames and keeps the last
   ``num_frames`` of them.
4. Time upsampling in the decoder is a conv to ``2 C`` channels, then depth-to-space with channels
   grouped (C outer, ts inner): output frame ``2 t + s`` reads channel ``c * 2 + s``.
"""
import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

LOGVAR_RANGE = (-30.0, 20.0)


class DiagonalGaussian:
    """Posterior N(mean, exp(logvar)) from ``moments`` (B, 2C, ...), split on dim 1; logvar is clamped."""

    def __init__(self, moments: torch.Tensor):
        self.mean, logvar = moments.chunk(2, dim=1)
        self.logvar = logvar.clamp(*LOGVAR_RANGE)
        self.std = torch.exp(0.5 * self.logvar)

    def sample(self, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """mean + std * eps, eps drawn from ``generator`` (on its own device, then moved)."""
        return self.mean + self.std * randn_like(self.mean, generator)

    def mode(self) -> torch.Tensor:
        return self.mean


def randn_like(ref: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Standard normal noise shaped like ``ref``; drawn on the generator's device so a CPU generator
    gives the same numbers whatever device ``ref`` is on."""
    device = generator.device if generator is not None else ref.device
    noise = torch.randn(ref.shape, generator=generator, device=device, dtype=torch.float32)
    return noise.to(device=ref.device, dtype=ref.dtype)


def depth_to_space_time(x: torch.Tensor, ts: int) -> torch.Tensor:
    """(B, C*ts, T, H, W) -> (B, C, T*ts, H, W); output frame ``ts*t + s`` reads channel ``c*ts + s``."""
    return rearrange(x, "B (C ts) T H W -> B C (T ts) H W", ts=ts)


class CausalConv3d(nn.Module):
    """Conv3d with zero padding ``(k_t - 1) + (1 - stride_t)`` in front of time only (causal)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride_t: int = 1,
                 bias: bool = True):
        super().__init__()
        k_t, k_h, k_w = (kernel_size,) * 3 if isinstance(kernel_size, int) else kernel_size
        if k_h % 2 == 0 or k_w % 2 == 0:
            raise ValueError(f"spatial kernel sizes must be odd, got {(k_h, k_w)}")
        time_pad = (k_t - 1) + (1 - stride_t)
        # F.pad order: (W_left, W_right, H_top, H_bottom, T_front, T_back)
        self.padding = (k_w // 2, k_w // 2, k_h // 2, k_h // 2, time_pad, 0)
        self.conv = nn.Conv3d(in_channels, out_channels, (k_t, k_h, k_w), stride=(stride_t, 1, 1),
                              bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, self.padding))


class ResBlock(nn.Module):
    """GN, SiLU, 3^3 conv, GN, SiLU, 3^3 conv (no biases); a 1^3 ``conv3`` shortcut when C changes."""

    def __init__(self, in_channels: int, out_channels: int, num_groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(num_groups, in_channels)
        self.conv1 = CausalConv3d(in_channels, out_channels, 3, bias=False)
        self.norm2 = nn.GroupNorm(num_groups, out_channels)
        self.conv2 = CausalConv3d(out_channels, out_channels, 3, bias=False)
        self.act = nn.SiLU()
        if in_channels != out_channels:
            self.conv3 = CausalConv3d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.act(self.norm1(x)))
        h = self.conv2(self.act(self.norm2(h)))
        shortcut = self.conv3(x) if hasattr(self, "conv3") else x
        return h + shortcut


def _res_stack(in_channels: int, out_channels: int, num_blocks: int, num_groups: int) -> nn.ModuleList:
    """``num_blocks`` ResBlocks; the first maps in -> out channels, the rest keep out channels."""
    chans = [in_channels] + [out_channels] * num_blocks
    return nn.ModuleList(ResBlock(chans[i], chans[i + 1], num_groups) for i in range(num_blocks))


class TemporalEncoder(nn.Module):
    """conv_in, per level ResBlocks (+ a stride-2 time conv or an Identity), ResBlocks, GN, SiLU, 1^3 conv."""

    def __init__(self, in_channels: int, out_channels: int, filters: int, num_res_blocks: int,
                 channel_multipliers: Sequence[int], temporal_downsample: Sequence[bool], num_groups: int):
        super().__init__()
        self.conv_in = CausalConv3d(in_channels, filters, 3, bias=False)
        self.block_res_blocks, self.conv_blocks = nn.ModuleList(), nn.ModuleList()
        prev = filters
        for level, mult in enumerate(channel_multipliers):
            width = filters * mult
            self.block_res_blocks.append(_res_stack(prev, width, num_res_blocks, num_groups))
            prev = width
            if level < len(channel_multipliers) - 1:
                down = temporal_downsample[level]
                self.conv_blocks.append(CausalConv3d(prev, prev, 3, stride_t=2) if down else nn.Identity())
        self.res_blocks = _res_stack(prev, prev, num_res_blocks, num_groups)
        self.norm1 = nn.GroupNorm(num_groups, prev)
        self.act = nn.SiLU()
        self.conv2 = CausalConv3d(prev, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(x)
        for level, blocks in enumerate(self.block_res_blocks):
            for block in blocks:
                x = block(x)
            if level < len(self.conv_blocks):
                x = self.conv_blocks[level](x)
        for block in self.res_blocks:
            x = block(x)
        return self.conv2(self.act(self.norm1(x)))


class TemporalDecoder(nn.Module):
    """Mirror of the encoder; a time-upsampling level is a conv to ``2 C`` then depth-to-space."""

    def __init__(self, in_channels: int, out_channels: int, filters: int, num_res_blocks: int,
                 channel_multipliers: Sequence[int], temporal_downsample: Sequence[bool], num_groups: int):
        super().__init__()
        top = filters * channel_multipliers[-1]
        self.conv1 = CausalConv3d(in_channels, top, 3)
        self.res_blocks = _res_stack(top, top, num_res_blocks, num_groups)
        self.time_strides = [2 if down else 1 for down in temporal_downsample[: len(channel_multipliers) - 1]]
        levels, ups, prev = [], [], top
        for level in reversed(range(len(channel_multipliers))):
            width = filters * channel_multipliers[level]
            levels.insert(0, _res_stack(prev, width, num_res_blocks, num_groups))
            prev = width
            if level > 0:
                ts = self.time_strides[level - 1]
                ups.insert(0, CausalConv3d(prev, prev * ts, 3) if ts > 1 else nn.Identity())
        self.block_res_blocks, self.conv_blocks = nn.ModuleList(levels), nn.ModuleList(ups)
        self.norm1 = nn.GroupNorm(num_groups, prev)
        self.act = nn.SiLU()
        self.conv_out = CausalConv3d(prev, out_channels, 3)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.conv1(z)
        for block in self.res_blocks:
            x = block(x)
        for level in reversed(range(len(self.block_res_blocks))):
            for block in self.block_res_blocks[level]:
                x = block(x)
            if level > 0:
                x = self.conv_blocks[level - 1](x)
                x = depth_to_space_time(x, self.time_strides[level - 1])
        return self.conv_out(self.act(self.norm1(x)))


class TemporalVAE(nn.Module):
    """The temporal VAE; defaults are Open-Sora v1.2's ``VAE_Temporal_SD`` (309,687,144 parameters).

    ``encode(x)`` x: (B, C, T, H, W) -> DiagonalGaussian over (B, C, ceil(T/f), H, W).
    ``decode(z, num_frames)`` z: (B, C, T', H, W) -> (B, C, num_frames, H, W).
    """

    def __init__(self, in_out_channels: int = 4, latent_channels: int = 4, filters: int = 128,
                 num_res_blocks: int = 4, channel_multipliers: Sequence[int] = (1, 2, 2, 4),
                 temporal_downsample: Sequence[bool] = (False, True, True), num_groups: int = 32):
        super().__init__()
        arch = dict(filters=filters, num_res_blocks=num_res_blocks, channel_multipliers=channel_multipliers,
                    temporal_downsample=temporal_downsample, num_groups=num_groups)
        self.encoder = TemporalEncoder(in_out_channels, 2 * latent_channels, **arch)
        self.quant_conv = CausalConv3d(2 * latent_channels, 2 * latent_channels, 1)
        self.post_quant_conv = CausalConv3d(latent_channels, latent_channels, 1)
        self.decoder = TemporalDecoder(latent_channels, in_out_channels, **arch)
        self.time_factor = 2 ** sum(bool(d) for d in temporal_downsample[: len(channel_multipliers) - 1])
        self.out_channels = latent_channels

    def latent_frames(self, num_frames: int) -> int:
        """Latents for ``num_frames`` inputs: the front padding rounds up, ceil(T / f)."""
        return math.ceil(num_frames / self.time_factor)

    def encode(self, x: torch.Tensor) -> DiagonalGaussian:
        pad = -x.shape[2] % self.time_factor
        x = F.pad(x, (0, 0, 0, 0, pad, 0))
        return DiagonalGaussian(self.quant_conv(self.encoder(x)))

    def decode(self, z: torch.Tensor, num_frames: int) -> torch.Tensor:
        full = z.shape[2] * self.time_factor
        if not full - self.time_factor < num_frames <= full:
            raise ValueError(f"num_frames={num_frames} does not fit {z.shape[2]} latents "
                             f"(expected {full - self.time_factor + 1}..{full}); pass the frame count "
                             f"that was encoded")
        x = self.decoder(self.post_quant_conv(z))
        # the decoder reproduces the front padding of encode: keep the last num_frames frames
        return x[:, :, full - num_frames:]
