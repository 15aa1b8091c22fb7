"""Precision names: the one table from config / CLI names ("bf16", "fp32", ...) to torch dtypes.

Configs and flags use the short names; torch's own names ("bfloat16", ...) are accepted as aliases.
"""
from __future__ import annotations

from typing import Union

import torch

# canonical name -> dtype (what configs, flags and ColossalAI's ``precision`` use)
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
_ALIASES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


def dtype_name(dtype: Union[str, torch.dtype]) -> str:
    """The canonical name ("fp32" | "bf16" | "fp16") of a dtype or of any accepted name."""
    if isinstance(dtype, torch.dtype):
        for name, value in DTYPES.items():
            if value == dtype:
                return name
        raise ValueError(f"unsupported dtype {dtype}; use one of {sorted(DTYPES)}")
    name = _ALIASES.get(dtype, dtype)
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(DTYPES)} (or {sorted(_ALIASES)}, "
                         f"or a torch.dtype)")
    return name


def as_dtype(dtype: Union[str, torch.dtype]) -> torch.dtype:
    """A torch dtype (returned as is) or a name ("fp32", "bf16", "fp16", "float32", ...) -> the torch dtype."""
    return dtype if isinstance(dtype, torch.dtype) else DTYPES[dtype_name(dtype)]
