"""Per-frame rectified flow: forward process, Euler step, timestep transform, loss, synchronous sampling."""
import math

import pytest
import torch

from opensora.registry import SCHEDULERS, build_module
from opensora.schedulers import (
    RFlow,
    add_noise,
    cfg_denoiser,
    euler_step,
    masked_mse,
    target,
    timestep_ratio,
    timestep_transform,
    transformed_levels,
)

from sched_oracle import PA_60S_COLUMN, oracle_model


def test_registered_and_built_from_config():
    sched = build_module(dict(type="rflow", num_sampling_steps=10, sample_method="logit-normal"), SCHEDULERS)
    assert isinstance(sched, RFlow) and sched.num_sampling_steps == 10
    with pytest.raises(ValueError, match="sample_method"):
        RFlow(sample_method="beta")


def test_add_noise_target_step_per_frame(gen):
    x0, eps = torch.randn(2, 4, 3, 2, 2, generator=gen), torch.randn(2, 4, 3, 2, 2, generator=gen)
    t = torch.tensor([[0.0, 500.0, 1000.0], [250.0, 250.0, 250.0]])
    xt = add_noise(x0, eps, t)
    for b in range(2):
        for f in range(3):
            tau = float(t[b, f]) / 1000
            assert torch.allclose(xt[b, :, f], (1 - tau) * x0[b, :, f] + tau * eps[b, :, f], atol=1e-6)
    assert torch.equal(xt[0, :, 0], x0[0, :, 0]) and torch.equal(xt[0, :, 2], eps[0, :, 2])
    # the exact velocity moves x_t to x_t' on the straight path, per latent with its own dt
    t_next = t - torch.tensor([[0.0, 100.0, 300.0], [50.0, 0.0, 250.0]])
    stepped = euler_step(xt, target(x0, eps), t, t_next)
    assert torch.allclose(stepped, add_noise(x0, eps, t_next), atol=1e-5)
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        add_noise(x0, eps, t[:, 0])


def test_step_dtype_follows_open_sora():
    x = torch.zeros(1, 4, 2, 1, 1, dtype=torch.bfloat16)
    v = torch.ones(1, 4, 2, 1, 1)
    t = torch.tensor([[1000.0, 500.0]], dtype=torch.float64)
    out = euler_step(x, v, t, t - 100)
    assert out.dtype == torch.float32 and torch.allclose(out, torch.full_like(out, 0.1))


def test_ratio_bf16_reproduces_reference_and_exact_values():
    assert float(timestep_ratio(240, 426, 119, bf16=True)) == 3.6875
    assert float(timestep_ratio(240, 426, 51, bf16=True)) == 2.421875
    assert float(timestep_ratio(240, 426, 119)) == pytest.approx(math.sqrt(240 * 426 / 512**2) * math.sqrt(35))
    assert float(timestep_ratio(240, 424, 119)) == pytest.approx(3.6860, abs=1e-4)
    assert float(timestep_ratio(512, 512, 1)) == 1.0  # image: n = 1
    with pytest.raises(ValueError, match="num_frames"):
        timestep_ratio(240, 426, 16)


def test_ratio_and_transform_are_per_sample():
    h, w, f = torch.tensor([240, 480, 720, 512]), torch.tensor([426, 854, 1280, 512]), torch.tensor([119, 51, 1, 34])
    r = timestep_ratio(h, w, f)
    assert r.shape == (4, 1)
    for b in range(4):
        n = 1 if f[b] == 1 else (int(f[b]) // 17) * 5
        assert float(r[b]) == pytest.approx(math.sqrt(int(h[b]) * int(w[b]) / 512**2 * n))
    t = torch.rand(4, 7, dtype=torch.float64) * 1000
    out = timestep_transform(t, r)
    for b in range(4):
        u, rb = t[b] / 1000, float(r[b])
        assert torch.allclose(out[b], 1000 * rb * u / (1 + (rb - 1) * u))
    sched = RFlow(bf16_ratio=True)
    rr = sched.ratio(torch.tensor([240, 240]), torch.tensor([426, 426]), torch.tensor([119, 51]))
    assert rr.flatten().tolist() == [3.6875, 2.421875]


def test_transformed_levels_match_method_tables():
    col = transformed_levels(30, 3.6875).flip(0)
    assert col.tolist() == pytest.approx(PA_60S_COLUMN, abs=0.051)
    assert col[0] == 1000 and col[-1] == 0
    os51 = RFlow().timesteps(2.421875)  # Open-Sora 30-step 240p 51-frame schedule (compat section 8)
    assert os51[:6].tolist() == pytest.approx([1000.0, 986.0, 971.4, 956.1, 940.3, 923.7], abs=0.051)
    assert os51[-5:].tolist() == pytest.approx([271.5, 212.0, 147.5, 77.1, 0.0], abs=0.051)
    assert RFlow().timesteps(torch.tensor([[1.0], [2.0]])).shape == (2, 31)
    assert RFlow(use_timestep_transform=False).timesteps(3.0, num_steps=4).tolist() == [1000, 750, 500, 250, 0]


def test_sample_t_constant_rows(gen):
    t = RFlow(sample_method="logit-normal").sample_t(4000, 5, ratio=1.0, generator=gen)
    assert t.shape == (4000, 5) and bool((t == t[:, :1]).all())
    assert 0 < float(t.min()) and float(t.max()) < 1000
    assert float(t[:, 0].median()) == pytest.approx(500, abs=25)  # sigmoid(N(0, 1)) is symmetric about 1/2
    u = RFlow(use_timestep_transform=False).sample_t(4000, 2, generator=gen)
    assert float(u.mean()) == pytest.approx(500, abs=20)
    r = torch.tensor([[1.0], [3.0]])
    same = torch.Generator().manual_seed(5)
    raw = RFlow(use_timestep_transform=False).sample_t(2, 3, generator=same)
    moved = RFlow().sample_t(2, 3, ratio=r, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(moved, timestep_transform(raw, r.float()))


def test_loss_is_per_sample_mean_over_unmasked_latents(gen):
    pred, tgt = torch.randn(3, 4, 6, 2, 2, generator=gen), torch.randn(3, 4, 6, 2, 2, generator=gen)
    mask = torch.tensor([[False] * 2 + [True] * 4, [True] * 6, [False] * 5 + [True]])
    got = masked_mse(pred, tgt, mask)
    for b in range(3):
        keep = mask[b].nonzero().flatten()
        want = ((pred[b][:, keep] - tgt[b][:, keep]) ** 2).sum() / (len(keep) * 4 * 2 * 2)
        assert float(got[b]) == pytest.approx(float(want), rel=1e-5)
    assert torch.allclose(masked_mse(pred, tgt), ((pred - tgt) ** 2).mean(dim=(1, 2, 3, 4)))


def test_loss_zero_for_perfect_noisy_prediction_and_garbage_context(gen):
    x0 = torch.randn(2, 4, 10, 2, 2, generator=gen)
    t = torch.cat([torch.zeros(2, 5), torch.full((2, 5), 700.0)], dim=1)
    mask = t > 0
    eps = torch.randn(x0.shape, generator=gen)

    def model(x_t, tt, **kw):
        v = target(x0, eps).clone()
        v[:, :, :5] = float("nan")  # garbage on the context chunk
        assert torch.equal(x_t[:, :, :5], x0[:, :, :5])  # the context stays exactly x0
        return torch.cat([v, torch.randn_like(v)], dim=1)

    out = RFlow().training_losses(model, x0, t, noise=eps, loss_mask=mask)
    assert float(out["loss"]) == 0.0 and out["loss_per_sample"].shape == (2,)
    scalar = RFlow().training_losses(lambda x, tt: torch.zeros_like(x), x0, t, noise=eps)
    assert float(scalar["loss"]) == pytest.approx(float(((x0 - eps) ** 2).mean()), rel=1e-5)


def test_constant_row_equals_open_sora_scalar_path(gen):
    x0, eps = torch.randn(3, 4, 5, 2, 2, generator=gen), torch.randn(3, 4, 5, 2, 2, generator=gen)
    t_clip = torch.tensor([10.0, 500.0, 990.0])
    ours = add_noise(x0, eps, t_clip[:, None].expand(3, 5))
    tp = 1 - t_clip / 1000  # Open-Sora: timepoints = 1 - t / T broadcast over (C, T, H, W)
    assert torch.allclose(ours, tp[:, None, None, None, None] * x0 + (1 - tp[:, None, None, None, None]) * eps)


def test_synchronous_sampling_oracle_with_cfg_and_conditioning(gen):
    x0 = torch.randn(2, 4, 6, 2, 2, generator=gen, dtype=torch.float64)
    z = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    denoise = cfg_denoiser(oracle_model(x0, torch.arange(6)), torch.zeros(2, 3), torch.ones(2, 3), 7.0)
    out = RFlow(num_sampling_steps=7).sample(denoise, z, ratio=torch.tensor([[2.0], [3.6875]]))
    assert torch.allclose(out, x0, atol=1e-10, rtol=0)
    cond = torch.zeros(2, 6, dtype=torch.bool)
    cond[:, :2] = True  # Open-Sora loop conditioning: t = 0 and reset every step (NaN sentinel there)
    out = RFlow().sample(denoise, z, ratio=2.421875, cond_mask=cond, x_cond=x0)
    assert not torch.isnan(out).any() and torch.allclose(out, x0, atol=1e-10, rtol=0)
