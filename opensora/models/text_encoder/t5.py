"""T5 text encoder (Open-Sora v1.2 uses ``DeepFloyd/t5-v1_1-xxl``, encoder only, d_model 4096).

Tokenize to ``model_max_length`` (300) with padding to max length, truncation and the EOS token, run
``T5EncoderModel`` and return ``last_hidden_state`` as y (B, 1, 300, 4096) with the attention mask.
The reference runs it in fp32 at inference (the default here) and in bf16 in training.
"""
import logging
import os
from pathlib import Path
from typing import Optional, Union

import torch

from opensora.registry import MODELS
from opensora.utils.ckpt import WeightsNotFoundError

from opensora.utils.dtype import as_dtype

from .base import TextEncoder

logger = logging.getLogger(__name__)

T5_XXL = "DeepFloyd/t5-v1_1-xxl"


def _not_found(source: str, exc: Exception) -> WeightsNotFoundError:
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() not in ("", "0", "false", "no", "off")
    repo = source if _looks_like_hub_id(source) else T5_XXL
    where = ("local directory" if not _looks_like_hub_id(source) else
             "the local Hugging Face cache only (HF_HUB_OFFLINE is set)" if offline else "the Hub and the local cache")
    return WeightsNotFoundError(
        f"could not load the T5 encoder/tokenizer from {source!r} (looked in {where}): "
        f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}\n"
        f"  To use a local copy: on a machine with network access run "
        f"`huggingface-cli download {repo} --local-dir DIR`, copy DIR here and set "
        f"text_encoder.from_pretrained=DIR (config.json, weights, spiece.model or tokenizer.json); "
        f"or set HF_HOME to a cache that already holds {repo!r}.")


def _looks_like_hub_id(source: str) -> bool:
    parts = source.split("/")
    return len(parts) == 2 and all(parts) and not source.startswith((".", "~")) and not Path(source).exists()


def load_t5(source: str, dtype: torch.dtype, cache_dir: Optional[str] = None) -> tuple:
    """(tokenizer, T5EncoderModel in eval mode without gradients) from a Hub id or a local directory."""
    from transformers import AutoTokenizer, T5EncoderModel

    source = str(source)
    if not _looks_like_hub_id(source) and not Path(source).expanduser().is_dir():
        raise _not_found(source, FileNotFoundError(f"no such directory: {Path(source).expanduser()}"))
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, cache_dir=cache_dir)
        model = T5EncoderModel.from_pretrained(source, dtype=dtype, cache_dir=cache_dir)
    except OSError as exc:  # transformers reports missing repos, files and offline misses as OSError
        raise _not_found(source, exc) from exc
    return tokenizer, model.eval().requires_grad_(False)


@MODELS.register_module(name="t5")
class T5Encoder(TextEncoder):
    """T5 encoder wrapper with the ``TextEncoder`` interface (see ``base.py``).

    Args:
        from_pretrained: Hub id or local directory holding the encoder and its tokenizer.
        model_max_length: caption tokens L (300 for Open-Sora v1.2).
        device, dtype: where and in which precision T5 runs (fp32 at inference).
        clean_prompts, aes, flow, camera_motion: prompt preprocessing (off by default), see ``TextEncoder``.
    """

    def __init__(self, from_pretrained: str = T5_XXL, model_max_length: int = 300,
                 device: Union[str, torch.device] = "cpu", dtype: Union[str, torch.dtype] = torch.float32,
                 cache_dir: Optional[str] = None, **preprocess):
        super().__init__(**preprocess)
        self.tokenizer, self.t5 = load_t5(from_pretrained, as_dtype(dtype), cache_dir)
        self.t5.to(device)
        self.model_max_length = model_max_length
        self.output_dim = self.t5.config.d_model
        logger.info("loaded T5 encoder %s (d_model %d, %s)", from_pretrained, self.output_dim, dtype)

    def embed(self, prompts: list) -> tuple:
        tokens = self.tokenizer(prompts, max_length=self.model_max_length, padding="max_length", truncation=True,
                                return_attention_mask=True, add_special_tokens=True, return_tensors="pt")
        device = next(self.t5.parameters()).device
        ids, mask = tokens["input_ids"].to(device), tokens["attention_mask"].to(device)
        states = self.t5(input_ids=ids, attention_mask=mask).last_hidden_state
        return states, mask.long()
