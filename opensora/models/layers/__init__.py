"""Building blocks shared by STDiT variants (Open-Sora v1.2 layers, re-implemented without timm/xformers)."""
from .attention import Attention, MultiHeadCrossAttention, self_attention_kernel
from .embedders import CaptionEmbedder, PatchEmbed3D, PositionEmbedding2D, TimestepEmbedder, timestep_sinusoid
from .final_layer import T2IFinalLayer
from .mlp import DropPath, Mlp, approx_gelu
from .modulation import modulation_params, t2i_modulate
from .norm import RMSNorm, build_layernorm
from .rope import RotaryEmbedding, apply_rope, rope_frequencies, rotate_pairs

__all__ = [
    "Attention", "MultiHeadCrossAttention", "self_attention_kernel",
    "CaptionEmbedder", "PatchEmbed3D", "PositionEmbedding2D", "TimestepEmbedder", "timestep_sinusoid",
    "T2IFinalLayer", "DropPath", "Mlp", "approx_gelu", "modulation_params", "t2i_modulate",
    "RMSNorm", "build_layernorm", "RotaryEmbedding", "apply_rope", "rope_frequencies", "rotate_pairs",
]
