"""Video VAEs: Open-Sora v1.2 (spatial AutoencoderKL + temporal VAE) and the linear PCA VAE of the embedded tiny
model; registers "OpenSoraVAE_V1_2", "OpenSoraVAE_V1_2-tiny", "PCAVideoVAE", "ChunkPCAVideoVAE", "PanChunkPCAVideoVAE"
and "RingPanChunkPCAVideoVAE"."""
from .chunk_pca_vae import ChunkPCAVideoVAE
from .pan_chunk_pca_vae import PanChunkPCAVideoVAE
from .pca_vae import PCAVideoVAE
from .ring_pan_pca_vae import RingPanChunkPCAVideoVAE
from .vae import OpenSoraVAE_V1_2, SpatialVAE, opensora_vae_v1_2_tiny
from .vae_temporal import DiagonalGaussian, TemporalVAE

__all__ = ["ChunkPCAVideoVAE", "PanChunkPCAVideoVAE", "RingPanChunkPCAVideoVAE", "OpenSoraVAE_V1_2", "opensora_vae_v1_2_tiny", "PCAVideoVAE", "SpatialVAE", "TemporalVAE",
           "DiagonalGaussian"]
