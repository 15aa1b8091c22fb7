"""Text encoders with one interface: ``encode(prompts) -> dict(y, mask)``, ``null(n, model)``.

Registers "t5" (``T5Encoder``, DeepFloyd/t5-v1_1-xxl) and "offline_text" (``OfflineTextEncoder``).
"""
from .base import TextEncoder
from .offline import OfflineTextEncoder
from .offload import PrecomputedTextEncoder, encode_then_offload
from .t5 import T5Encoder
from .text_cleaning import append_scores, clean_caption, preprocess_prompts

__all__ = ["TextEncoder", "T5Encoder", "OfflineTextEncoder", "clean_caption", "append_scores",
           "preprocess_prompts", "PrecomputedTextEncoder", "encode_then_offload"]
