"""Feed-forward pieces that Open-Sora v1.2 took from timm (timm itself is not installable here).

``Mlp`` keeps timm's parameter names (``fc1``, ``fc2``) so the published STDiT3 weights load unchanged.
"""
import torch
from torch import nn


def approx_gelu() -> nn.Module:
    """GELU with the tanh approximation, the activation of every STDiT3 MLP."""
    return nn.GELU(approximate="tanh")


class Mlp(nn.Module):
    """Linear -> activation -> Linear (timm ``Mlp`` with dropout 0 and no norm).

    x: (..., in_features) -> (..., out_features)
    """

    def __init__(self, in_features: int, hidden_features: int, out_features: int | None = None, act_layer=approx_gelu):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, out_features or in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class DropPath(nn.Module):
    """Stochastic depth: in training, zero a whole sample's residual branch with probability ``p``.

    x: (B, ...). The kept samples are scaled by 1 / (1 - p) so the expectation is unchanged.
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop_path probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        mask = x.new_empty(shape).bernoulli_(keep)
        return x * mask / keep
