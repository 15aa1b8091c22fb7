"""STDiT3 (Open-Sora v1.2) with per-frame timesteps; importing registers "STDiT3-XL/2", "STDiT3-3B/2", "STDiT3"."""
from .stdit3 import STDiT3, STDiT3Block, STDiT3Config, build_stdit3

__all__ = ["STDiT3", "STDiT3Block", "STDiT3Config", "build_stdit3"]
