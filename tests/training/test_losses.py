"""Training losses (opensora/training/losses.py): the pixel loss equals the decoded velocity error computed
independently (two decodes and a weighted squared difference), reduces to the latent MSE for an orthonormal basis
with unit scale, ignores masked latents, is wired from the config into the training step, and refuses what it
cannot do."""
import pytest
import torch

from opensora.models.vae import ChunkPCAVideoVAE, PCAVideoVAE
from opensora.registry import LOSSES, build_module
from opensora.schedulers.rectified_flow import RFlow, masked_mse
from opensora.training.losses import LatentLoss, PixelLoss, frame_weights


def _vae(latent_channels=2, seed=0):
    """A small chunk VAE (2 x 2-px cells, 17-frame chunks, 5 latents x 2 channels) with a random orthonormal basis
    and unequal scales, as a fit would give."""
    vae = ChunkPCAVideoVAE(latent_channels=latent_channels, patch_size=2)
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(vae.group_dim, vae.num_components, generator=g, dtype=torch.float64))
    scale = torch.linspace(3.0, 0.2, vae.num_components)
    vae.load_fit(dict(mean=torch.randn(vae.group_dim, generator=g), basis=q.T.float(), scale=scale))
    return vae


def _decoded_error(vae, pred, tgt, mask, weights):
    """sum_b over counted chunks of sum_t w_t |decode(pred) - decode(tgt)|^2, chunk by chunk (float64)."""
    total = torch.zeros(pred.shape[0], dtype=torch.float64)
    n = vae.latents_per_chunk
    for k in range(pred.shape[2] // n):
        sl = slice(n * k, n * k + n)
        diff = (vae.decode_chunk(pred[:, :, sl]).double() - vae.decode_chunk(tgt[:, :, sl]).double()).pow(2)
        per_sample = (diff * weights[None, None, :, None, None]).sum(dim=(1, 2, 3, 4))
        total += torch.where(mask[:, n * k], per_sample, torch.zeros_like(per_sample))
    return total


@pytest.mark.parametrize("boundary_frames,boundary_weight", [(0, 1.0), (1, 3.0), (3, 0.5)])
def test_pixel_loss_is_the_weighted_squared_error_of_the_decoded_frames(boundary_frames, boundary_weight):
    vae = _vae()
    g = torch.Generator().manual_seed(1)
    pred, tgt = torch.randn(2, 2, 15, 3, 4, generator=g), torch.randn(2, 2, 15, 3, 4, generator=g)
    mask = torch.ones(2, 15, dtype=torch.bool)
    mask[:, :5] = False  # the clean context chunk
    loss = PixelLoss(vae=vae, boundary_frames=boundary_frames, boundary_weight=boundary_weight)(pred, tgt, mask)

    w = torch.ones(17, dtype=torch.float64)
    if boundary_frames:
        w[:boundary_frames] = w[17 - boundary_frames:] = boundary_weight
    # the metric's normalisation, mean diag(J^T W J), from the decoder's response to unit latents
    unit = torch.eye(vae.num_components).reshape(vae.num_components, 5, 2).permute(0, 2, 1)[..., None, None]
    responses = (vae.decode_chunk(unit.float()).double() - vae.decode_chunk(torch.zeros_like(unit)).double())
    norm = (responses.pow(2) * w[None, None, :, None, None]).sum(dim=(1, 2, 3, 4)).mean()
    counted = mask.sum(1) * (2 * 3 * 4)
    expected = _decoded_error(vae, pred, tgt, mask, w) / norm / counted
    torch.testing.assert_close(loss.double(), expected, rtol=1e-4, atol=0)


def test_pixel_loss_with_an_orthonormal_unit_scale_basis_is_the_latent_mse():
    vae = _vae()
    vae.scale.fill_(1.0)
    g = torch.Generator().manual_seed(2)
    pred, tgt = torch.randn(3, 2, 10, 3, 4, generator=g), torch.randn(3, 2, 10, 3, 4, generator=g)
    mask = torch.tensor([[True] * 10, [False] * 5 + [True] * 5, [False] * 10])
    torch.testing.assert_close(PixelLoss(vae=vae)(pred, tgt, mask), masked_mse(pred, tgt, mask), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(LatentLoss()(pred, tgt, mask), masked_mse(pred, tgt, mask))


def test_masked_latents_never_count_and_a_partial_chunk_is_allowed():
    vae = _vae()
    g = torch.Generator().manual_seed(3)
    pred, tgt = torch.randn(1, 2, 12, 3, 4, generator=g), torch.randn(1, 2, 12, 3, 4, generator=g)
    mask = torch.ones(1, 12, dtype=torch.bool)
    mask[:, :5] = False
    loss = PixelLoss(vae=vae)
    garbage = pred.clone()
    garbage[:, :, :5] = float("nan")
    torch.testing.assert_close(loss(garbage, tgt, mask), loss(pred, tgt, mask))
    assert torch.isfinite(loss(pred, tgt, mask)).all()  # 12 latents = 2 chunks + 2 latents of a third
    assert loss(pred, pred, mask).item() == 0.0


def test_frame_weights_and_metric_closed_form():
    assert frame_weights(17, 2, 4.0).tolist() == [4.0, 4.0] + [1.0] * 13 + [4.0, 4.0]
    vae = _vae()
    # J^T J = diag(scale^2) for an orthonormal basis
    torch.testing.assert_close(vae.pixel_metric(), torch.diag(vae.scale.double() ** 2), atol=1e-6, rtol=0)


def test_the_config_builds_the_loss_and_the_step_uses_it():
    vae = _vae()
    assert isinstance(build_module(dict(type="latent"), LOSSES, config_key="loss", vae=vae), LatentLoss)
    built = build_module(dict(type="pixel", boundary_frames=1, boundary_weight=3.0), LOSSES, config_key="loss",
                         vae=vae)
    assert isinstance(built, PixelLoss) and built.metric.shape == (10, 10)
    # the training step hands the model's prediction and the target to the configured loss
    x0, eps = torch.randn(1, 2, 10, 3, 4), torch.randn(1, 2, 10, 3, 4)
    t = torch.full((1, 10), 500.0)
    seen = {}

    def model(x, timestep, **kw):
        seen["v"] = torch.zeros_like(x)
        return seen["v"]

    out = RFlow().training_losses(model, x0, t, noise=eps, loss_fn=built)
    torch.testing.assert_close(out["loss"], built(seen["v"], x0 - eps, None).mean())


def test_bad_settings_are_refused_with_the_value_and_the_fix():
    with pytest.raises(ValueError, match="PCAVideoVAE has none: use loss=dict"):
        PixelLoss(vae=PCAVideoVAE(latent_channels=2, patch_size=2))
    with pytest.raises(ValueError, match=r"boundary_frames must be in 0..8 .* got 9"):
        PixelLoss(vae=_vae(), boundary_frames=9)
    with pytest.raises(ValueError, match="boundary_weight must be > 0, got 0"):
        PixelLoss(vae=_vae(), boundary_weight=0)
    with torch.device("meta"):
        meta = ChunkPCAVideoVAE(latent_channels=2, patch_size=2)
    with pytest.raises(ValueError, match="meta device"):
        PixelLoss(vae=meta)
    loss = PixelLoss(vae=_vae())
    with pytest.raises(ValueError, match="for 2 latent channels, the prediction has 3"):
        loss(torch.zeros(1, 3, 5, 2, 2), torch.zeros(1, 3, 5, 2, 2))


def test_slot_weights_weigh_each_latent_by_its_place_in_the_chunk():
    """Against an explicit loop: sum over counted latents of w[t % 5] / mean(w) * squared error, over the counted
    latents' element count; uniform weights give the plain MSE."""
    g = torch.Generator().manual_seed(3)
    pred, tgt = torch.randn(2, 3, 15, 2, 4, generator=g), torch.randn(2, 3, 15, 2, 4, generator=g)
    mask = torch.ones(2, 15, dtype=torch.bool)
    mask[0, :5] = False  # sample 0: the clean context chunk; sample 1 counts everything
    weights = [1.0, 3.0, 3.0, 2.0, 0.0]
    loss = LatentLoss(vae=_vae(), slot_weights=weights)(pred, tgt, mask)
    mean_w = sum(weights) / len(weights)
    for b in range(2):
        total, count = 0.0, 0
        for t in range(15):
            if mask[b, t]:
                total += weights[t % 5] / mean_w * float((pred[b, :, t] - tgt[b, :, t]).double().pow(2).sum())
                count += 3 * 2 * 4
        assert float(loss[b]) == pytest.approx(total / count, rel=1e-5)
    uniform = build_module(dict(type="latent", slot_weights=[2.0] * 5), LOSSES, config_key="loss", vae=_vae())
    torch.testing.assert_close(uniform(pred, tgt, mask), masked_mse(pred, tgt, mask))
    # masked garbage never counts
    garbage = pred.clone()
    garbage[0, :, :5] = float("nan")
    torch.testing.assert_close(LatentLoss(vae=_vae(), slot_weights=weights)(garbage, tgt, mask), loss)


def test_bad_slot_weights_are_refused_with_the_value_and_the_fix():
    with pytest.raises(ValueError, match="NoneType has none: drop slot_weights"):
        LatentLoss(vae=None, slot_weights=[1] * 5)
    with pytest.raises(ValueError, match=r"one weight per latent of a chunk \(5\), got 3"):
        LatentLoss(vae=_vae(), slot_weights=[1, 2, 3])
    with pytest.raises(ValueError, match=r"finite, >= 0 and not all 0, got \[1.0, -1.0"):
        LatentLoss(vae=_vae(), slot_weights=[1.0, -1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="not all 0"):
        LatentLoss(vae=_vae(), slot_weights=[0] * 5)
