"""Progressive autoregressive long-video diffusion on Open-Sora v1.2."""
__version__ = "0.1.0"
