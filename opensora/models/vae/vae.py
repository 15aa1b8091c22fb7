"""Open-Sora v1.2 video VAE: spatial ``AutoencoderKL`` per frame, temporal VAE per chunk, normalisation.

Written for this project from the published facts (hpcaitech/Open-Sora ``opensora/models/vae/vae.py``,
``OpenSoraVAE_V1_2``); the state dict matches ``hpcai-tech/OpenSora-VAE-v1.2`` unchanged: 517 fp32
tensors (``scale``, ``shift``, 248 ``spatial_vae.module.*``, 267 ``temporal_vae.*``), 393,341,007
parameters.

Notation:

| symbol | meaning |
|---|---|
| x | video (B, 3, T, H, W) in [-1, 1] |
| z | normalised latent (B, 4, T', H/s, W/s), s = spatial factor (8) |
| micro_frame_size | frames per temporal chunk (17) |
| latents_per_chunk | latents per chunk, ``get_latent_size([17])[0]`` (5) |

Encode: (1) spatial ``latent_dist.sample()`` x 0.18215 per frame, ``micro_batch_size`` frames per call;
(2) temporal encode + sample per 17-frame chunk (front zero-pad to a multiple of 4);
(3) z = (z - shift) / scale. Decode reverses this one 5-latent chunk at a time; chunks are independent.
Sampling is stochastic (as in the reference); pass a ``torch.Generator`` for reproducibility.
"""
from typing import Iterator, Optional, Sequence

import torch
from diffusers import AutoencoderKL
from einops import rearrange
from torch import nn

from opensora.registry import MODELS

from .chunked import ChunkedVideoVAE
from .vae_temporal import TemporalVAE

# The SDXL VAE architecture (as in PixArt-alpha/pixart_sigma_sdxlvae_T5_diffusers/vae); weights come
# from the Open-Sora checkpoint, which fine-tuned them. 0.13025 is diffusers' value and is NOT used.
SDXL_VAE_CONFIG = dict(
    in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(128, 256, 512, 512), layers_per_block=2,
    act_fn="silu", latent_channels=4, norm_num_groups=32, sample_size=1024, scaling_factor=0.13025,
    force_upcast=True,
)
SPATIAL_SCALING_FACTOR = 0.18215
LATENT_SHIFT = (-0.10, 0.34, 0.27, 0.98)
LATENT_SCALE = (3.85, 2.32, 2.33, 3.06)


def spatial_config(overrides: Optional[dict] = None) -> dict:
    """SDXL_VAE_CONFIG with ``overrides``; block types follow ``block_out_channels`` unless given."""
    cfg = dict(SDXL_VAE_CONFIG, **(overrides or {}))
    levels = len(cfg["block_out_channels"])
    for key, block in (("down_block_types", "DownEncoderBlock2D"), ("up_block_types", "UpDecoderBlock2D")):
        if key not in (overrides or {}):
            cfg[key] = (block,) * levels
    return cfg


class SpatialVAE(nn.Module):
    """Per-frame ``AutoencoderKL`` (as ``.module``, hence the ``spatial_vae.module.*`` keys)."""

    def __init__(self, config: dict, micro_batch_size: Optional[int] = 4,
                 scaling_factor: float = SPATIAL_SCALING_FACTOR):
        super().__init__()
        self.module = AutoencoderKL(**config)
        self.micro_batch_size = micro_batch_size
        self.scaling_factor = scaling_factor
        self.factor = 2 ** (len(config["block_out_channels"]) - 1)
        self.in_channels = config["in_channels"]

    def _frames(self, x: torch.Tensor) -> Iterator[torch.Tensor]:
        step = self.micro_batch_size or x.shape[0]
        return (x[i:i + step] for i in range(0, x.shape[0], step))

    def encode(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """x: (B, 3, T, H, W) -> sampled latent x 0.18215, (B, 4, T, H/s, W/s)."""
        frames = rearrange(x, "B C T H W -> (B T) C H W")
        out = [self.module.encode(f).latent_dist.sample(generator) for f in self._frames(frames)]
        return rearrange(torch.cat(out) * self.scaling_factor, "(B T) C H W -> B C T H W", B=x.shape[0])

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, 4, T, h, w) -> (B, 3, T, h*s, w*s)."""
        frames = rearrange(z, "B C T H W -> (B T) C H W") / self.scaling_factor
        out = [self.module.decode(f).sample for f in self._frames(frames)]
        return rearrange(torch.cat(out), "(B T) C H W -> B C T H W", B=z.shape[0])


def _channel_buffer(values: Sequence[float], channels: int, name: str) -> torch.Tensor:
    t = torch.as_tensor(values, dtype=torch.float32).flatten()
    if t.numel() != channels:
        raise ValueError(f"{name} needs one value per latent channel ({channels}), got {list(values)}")
    return t.reshape(1, channels, 1, 1, 1)


@MODELS.register_module(name="OpenSoraVAE_V1_2")
class OpenSoraVAE_V1_2(ChunkedVideoVAE, nn.Module):
    """Open-Sora v1.2 video VAE. Defaults build the published architecture (no download).

    Args:
        from_pretrained: a Hub id, a local snapshot directory or a ``.safetensors`` file; loaded strictly.
        micro_batch_size: frames per spatial-VAE call (memory only; ``None`` = all at once).
        micro_frame_size: frames per temporal chunk; ``latents_per_chunk`` is derived from it.
        spatial: overrides of ``SDXL_VAE_CONFIG`` (diffusers ``AutoencoderKL`` kwargs).
        temporal: ``TemporalVAE`` kwargs (defaults are Open-Sora's ``VAE_Temporal_SD``).
        shift, scale: per-channel latent normalisation, z = (z_raw - shift) / scale.
        scaling_factor: spatial latent multiplier (0.18215, not diffusers' config value).
    """

    def __init__(self, from_pretrained: Optional[str] = None, micro_batch_size: Optional[int] = 4,
                 micro_frame_size: int = 17, spatial: Optional[dict] = None, temporal: Optional[dict] = None,
                 shift: Sequence[float] = LATENT_SHIFT, scale: Sequence[float] = LATENT_SCALE,
                 scaling_factor: float = SPATIAL_SCALING_FACTOR):
        super().__init__()
        self.arch = dict(micro_frame_size=micro_frame_size, spatial=spatial_config(spatial),
                         temporal=dict(temporal or {}), shift=list(shift), scale=list(scale),
                         scaling_factor=scaling_factor)
        self.spatial_vae = SpatialVAE(self.arch["spatial"], micro_batch_size, scaling_factor)
        self.temporal_vae = TemporalVAE(**self.arch["temporal"])
        self._check_channels()
        self.micro_frame_size = micro_frame_size
        self.latents_per_chunk = self.temporal_vae.latent_frames(micro_frame_size)
        self.out_channels = self.temporal_vae.out_channels
        self.register_buffer("scale", _channel_buffer(scale, self.out_channels, "scale"))
        self.register_buffer("shift", _channel_buffer(shift, self.out_channels, "shift"))
        if from_pretrained is not None:
            self.load_pretrained(from_pretrained)

    def _check_channels(self) -> None:
        spatial_c = self.arch["spatial"]["latent_channels"]
        temporal_c = self.arch["temporal"].get("in_out_channels", 4)
        if spatial_c != temporal_c:
            raise ValueError(f"spatial latent_channels={spatial_c} != temporal in_out_channels={temporal_c}; "
                             "set both to the same value")

    # ---- properties -------------------------------------------------------------------------------
    @property
    def micro_batch_size(self) -> Optional[int]:
        return self.spatial_vae.micro_batch_size

    @micro_batch_size.setter
    def micro_batch_size(self, value: Optional[int]) -> None:
        self.spatial_vae.micro_batch_size = value

    @property
    def spatial_factor(self) -> int:
        return self.spatial_vae.factor

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def time_factor(self) -> int:
        return self.temporal_vae.time_factor

    # ---- encode / decode --------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """x: (B, 3, T, H, W) in [-1, 1] -> z: (B, 4, T', H/8, W/8), normalised, sampled with ``generator``."""
        self._check(x, self.spatial_vae.in_channels, "x")
        x_z = self.spatial_vae.encode(x.to(self.dtype), generator)
        chunks = x_z.split(self.micro_frame_size, dim=2)
        z = torch.cat([self.temporal_vae.encode(c).sample(generator) for c in chunks], dim=2)
        return (z - self.shift) / self.scale

    def decode_chunk(self, z_chunk: torch.Tensor, num_frames: Optional[int] = None) -> torch.Tensor:
        """One chunk z: (B, 4, n, h, w), n <= latents_per_chunk -> (B, 3, num_frames, 8h, 8w).

        ``num_frames`` defaults to ``micro_frame_size`` for a full chunk and ``4 n`` for a partial one.
        Chunks are independent, so a long video decodes chunk by chunk as it is generated.
        """
        num_frames = self._chunk_frames(z_chunk, num_frames)
        z = z_chunk.to(self.dtype) * self.scale + self.shift
        return self.spatial_vae.decode(self.temporal_vae.decode(z, num_frames))


# A tiny VAE with the same interface and the same 17-frame <-> 5-latent chunking (tests, demo models).
TINY_SPATIAL = dict(block_out_channels=(8, 8, 16, 16), layers_per_block=1, norm_num_groups=4, sample_size=32)
TINY_TEMPORAL = dict(filters=8, num_res_blocks=1, num_groups=4)


@MODELS.register_module(name="OpenSoraVAE_V1_2-tiny")
def opensora_vae_v1_2_tiny(spatial: Optional[dict] = None, temporal: Optional[dict] = None,
                           **kwargs) -> OpenSoraVAE_V1_2:
    """``OpenSoraVAE_V1_2`` with TINY_SPATIAL / TINY_TEMPORAL (each overridable key by key)."""
    return OpenSoraVAE_V1_2(spatial=dict(TINY_SPATIAL, **(spatial or {})),
                            temporal=dict(TINY_TEMPORAL, **(temporal or {})), **kwargs)
