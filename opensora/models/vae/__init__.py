"""Open-Sora v1.2 video VAE (spatial AutoencoderKL + temporal VAE); registers "OpenSoraVAE_V1_2"(-tiny)."""
from .vae import OpenSoraVAE_V1_2, SpatialVAE, opensora_vae_v1_2_tiny
from .vae_temporal import DiagonalGaussian, TemporalVAE

__all__ = ["OpenSoraVAE_V1_2", "opensora_vae_v1_2_tiny", "SpatialVAE", "TemporalVAE", "DiagonalGaussian"]
