"""adaLN-single modulation helpers (PixArt / Open-Sora), per latent frame."""
import torch


def t2i_modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x * (1 + scale) + shift, with shift/scale broadcasting over the tokens of a frame."""
    return x * (1 + scale) + shift


def modulation_params(table: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Split ``table + rows`` into k per-frame modulation tensors.

    table: (k, C), a learned ``scale_shift_table``.
    rows: (B, T, k, C) (one row per table row) or (B, T, 1, C) (the same row added to every table row).
    Returns k tensors of shape (B, T, 1, C), ready to broadcast over the S tokens of each frame.
    """
    params = table + rows  # (B, T, k, C)
    return tuple(p.unsqueeze(2) for p in params.unbind(2))
