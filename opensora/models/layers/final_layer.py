"""The PixArt/Open-Sora final layer: LayerNorm, per-frame modulation by the timestep embedding, Linear."""
import torch
from torch import nn

from .modulation import modulation_params, t2i_modulate


class T2IFinalLayer(nn.Module):
    """x: (B, T, S, C), t_emb: (B, T, C) -> (B, T, S, num_patch * out_channels).

    shift, scale = ``scale_shift_table`` + t_emb (the un-SiLU'd embedding, fps included; not ``t_block``'s).
    Output features are ordered (t_p, h_p, w_p, c) with c fastest.
    """

    def __init__(self, hidden_size: int, num_patch: int, out_channels: int):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden_size, num_patch * out_channels)
        self.scale_shift_table = nn.Parameter(torch.randn(2, hidden_size) / hidden_size**0.5)

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        shift, scale = modulation_params(self.scale_shift_table, t_emb.unsqueeze(2))
        return self.linear(t2i_modulate(self.norm_final(x), shift, scale))
