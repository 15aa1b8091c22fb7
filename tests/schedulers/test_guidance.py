"""Classifier-free guidance wrapper: batch order, formula, output channels."""
import pytest
import torch

from opensora.schedulers import cfg_denoiser, cfg_velocity


def fake_model(calls):
    """Output channels 0..3 depend on the caption, channels 4..7 are junk; records the batch it saw."""

    def model(x, t, y, mask=None):
        calls.append((x.shape[0], t.clone(), y.clone(), mask))
        v = x * 2 + y[:, :1, None, None, None]
        return torch.cat([v, torch.full_like(v, 1e6)], dim=1)

    return model


def test_cfg_formula_and_batch_order(gen):
    calls = []
    x, t = torch.randn(2, 4, 3, 2, 2, generator=gen), torch.rand(2, 3, generator=gen) * 1000
    y, y_null = torch.tensor([[1.0], [2.0]]), torch.tensor([[-1.0], [-1.0]])
    v = cfg_velocity(fake_model(calls), x, t, y, y_null, 7.0, mask="m")
    v_c, v_u = x * 2 + y[:, :1, None, None, None], x * 2 + y_null[:, :1, None, None, None]
    assert torch.allclose(v, v_u + 7.0 * (v_c - v_u)) and v.shape == x.shape
    n, tt, yy, mask = calls[0]
    assert n == 4 and torch.equal(tt, torch.cat([t, t])) and torch.equal(yy, torch.cat([y, y_null])) and mask == "m"
    one = cfg_denoiser(fake_model([]), y, y_null, 1.0)(x, t)
    assert torch.allclose(one, v_c)


def test_cfg_rejects_mismatched_captions():
    with pytest.raises(ValueError, match="y_null"):
        cfg_velocity(fake_model([]), torch.zeros(2, 4, 1, 1, 1), torch.zeros(2, 1), torch.zeros(2, 1),
                     torch.zeros(1, 1), 7.0)
