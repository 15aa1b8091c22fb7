"""In-process tests of the training pieces (no torchrun): objectives, loss masking, EMA, warm-up, guard."""
import math

import pytest
import torch

from opensora.acceleration.backend import TorchBackend, WarmupFactor
from opensora.acceleration.checkpoint import list_checkpoints, prune_checkpoints
from opensora.registry import MODELS, OBJECTIVES, build_module
from opensora.schedulers import RFlow, add_noise, target
from opensora.training.step import StepParts, compute_loss, frames_for_latents
from opensora.training.train_utils import NonFiniteLossError, check_finite, create_ema, ema_decay_at, update_ema

TINY = dict(type="STDiT3", depth=1, hidden_size=32, num_heads=2, caption_channels=16, model_max_length=8)


@pytest.fixture(scope="module")
def vae():
    with torch.device("meta"):
        return build_module(dict(type="OpenSoraVAE_V1_2-tiny"), MODELS)


def _objective(vae, num_steps=4, **cfg):
    """An objective as the trainer builds it: S from the scheduler, the chunk size from the VAE."""
    scheduler = RFlow(num_sampling_steps=num_steps, sample_method="logit-normal")
    return build_module(cfg, OBJECTIVES, scheduler=scheduler, vae=vae)


def test_objectives_take_steps_from_the_scheduler_and_chunks_from_the_vae(vae):
    with pytest.raises(ValueError, match="num_steps=5 must be a positive multiple of num_noisy_chunks=2"):
        _objective(vae, type="pa", num_steps=5, num_noisy_chunks=2)
    for kind in ("pa", "fopp"):
        with pytest.raises(TypeError, match="num_steps|chunk_size"):  # one source per value: no config keys
            _objective(vae, type=kind, num_noisy_chunks=2, chunk_size=5)
    fopp = _objective(vae, type="fopp", num_steps=6, num_noisy_chunks=3)
    t, _, _ = fopp.sample(2, 20, height=32, width=48, generator=torch.Generator(), device="cpu")
    assert t.shape == (2, (3 + 1) * vae.latents_per_chunk)


def test_frames_for_latents(vae):
    assert [frames_for_latents(vae, n) for n in (1, 4, 5, 15, 35)] == [1, 13, 17, 51, 119]


def test_pa_loss_ignores_the_clean_chunk(vae):
    """A model exact on the noisy latents and garbage (NaN) on the context chunk has loss 0."""
    obj = _objective(vae, type="pa", num_steps=4, num_noisy_chunks=2, window_probs={"steady": 1.0})
    gen = torch.Generator().manual_seed(0)
    t, mask, info = obj.sample(3, 15, height=32, width=48, generator=gen, device="cpu")
    assert info["window"] == "steady" and t.shape == (3, 15) and (t[:, :5] == 0).all() and (t[:, 5:] > 0).all()
    assert mask.tolist() == [[False] * 5 + [True] * 10] * 3
    x0, noise = torch.randn(3, 4, 15, 2, 3), torch.randn(3, 4, 15, 2, 3)

    def model(x_t, t_in, garbage_on):
        v = target(x0, noise).clone()
        v[:, :, garbage_on] = float("nan")
        return torch.cat([v, torch.zeros_like(v)], dim=1)  # 8 channels like STDiT3

    rf = RFlow()
    out = rf.training_losses(lambda x, tt: model(x, tt, slice(0, 5)), x0, t, noise=noise, loss_mask=mask)
    assert out["loss"].item() == 0.0
    assert torch.equal(out["x_t"][:, :, :5], x0[:, :, :5])  # the context chunk is not noised
    wrong = rf.training_losses(lambda x, tt: model(x, tt, slice(5, 6)), x0, t, noise=noise, loss_mask=mask)
    assert not math.isfinite(wrong["loss"].item())  # garbage on a noisy latent is not ignored


def test_pa_windows_fit_the_batch_and_use_the_full_window_ratio(vae):
    from opensora.schedulers import sample_pa_training_levels

    obj = _objective(vae, type="pa", num_steps=4, num_noisy_chunks=2)
    names = {obj.draw_window(10, torch.Generator().manual_seed(s)) for s in range(60)}
    assert names == {"init:1", "term:1", "t2v:1", "t2v:2"}  # every type of <= 10 latents, never steady
    with pytest.raises(ValueError, match="latent frames"):
        obj.sample(1, 4, height=32, width=48, generator=torch.Generator(), device="cpu")
    t, _, info = obj.sample(2, 15, height=32, width=48, generator=torch.Generator().manual_seed(3), device="cpu")
    gen = torch.Generator().manual_seed(3)
    obj.draw_window(15, gen)
    ratio = RFlow().ratio(32, 48, 51)  # the 51-frame window's ratio, whatever the window type
    ref, _, _ = sample_pa_training_levels(2, num_steps=4, num_noisy_chunks=2, chunk_size=5, ratio=ratio,
                                          window=info["window"], generator=gen)
    assert torch.equal(t, ref)


def test_opensora_and_fopp_objectives(vae):
    t, mask, _ = _objective(vae, type="opensora").sample(4, 7, height=32, width=48,
                                                         generator=torch.Generator(), device="cpu")
    assert mask is None and t.shape == (4, 7) and (t == t[:, :1]).all() and ((t > 0) & (t < 1000)).all()
    fopp = _objective(vae, type="fopp", num_steps=4, num_noisy_chunks=2)
    t, mask, _ = fopp.sample(5, 20, height=32, width=48, generator=torch.Generator(), device="cpu")
    assert t.shape == (5, 15) and (t[:, :5] == 0).all() and (t[:, 5:].diff(dim=1) >= 0).all()
    with pytest.raises(ValueError, match="FoPP"):
        fopp.sample(1, 10, height=32, width=48, generator=torch.Generator(), device="cpu")
    with pytest.raises(KeyError, match="registered"):
        _objective(vae, type="nope")


def test_loss_decreases_on_a_repeated_batch(vae):
    torch.manual_seed(0)
    model = build_module(TINY, MODELS)
    backend = TorchBackend(model, dict(lr=3e-3), warmup_steps=0, zero=False, grad_clip=1.0)
    obj = _objective(vae, type="pa", num_steps=4, num_noisy_chunks=2)
    batch = {"latents": torch.randn(2, 4, 15, 4, 6), "y": torch.randn(2, 1, 8, 16), "mask": torch.ones(2, 8),
             "text": ["a", "b"], "fps": torch.tensor([8.0, 8.0]), "height": torch.tensor([32, 32]),
             "width": torch.tensor([48, 48])}
    losses = []
    for _ in range(40):
        gens = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)  # same noise and levels
        parts = StepParts(backend, RFlow(), obj, vae, None, *gens, torch.device("cpu"))
        loss, info = compute_loss(parts, batch)
        backend.backward(loss)
        backend.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_ema_update_and_warmup():
    model = torch.nn.Linear(3, 2)
    ema = create_ema(model)
    with torch.no_grad():
        model.weight.add_(1.0)
    before = ema.weight.clone()
    update_ema(ema, model, decay=0.9)
    assert torch.allclose(ema.weight, 0.9 * before + 0.1 * model.weight)
    assert not ema.weight.requires_grad and not ema.training
    f = WarmupFactor(4)
    assert [f(s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0] and WarmupFactor(0)(0) == 1.0


def test_ema_warmup_forgets_the_initialisation():
    assert ema_decay_at(1, 0.998, warmup=False) == 0.998
    assert [ema_decay_at(s, 0.998, warmup=True) for s in (1, 10, 90)] == [2 / 11, 11 / 20, 91 / 100]
    assert ema_decay_at(10_000, 0.998, warmup=True) == 0.998  # (1 + s) / (10 + s) > 0.998 from s = 4491 on
    # weight of the initial value after n steps: the product of the decays (closed form with warm-up:
    # prod_{s=1..n} (1 + s) / (10 + s) = 10! (n + 1)! / (n + 10)!), against 0.998 ** n without
    n = 500
    init_share = math.prod(ema_decay_at(s, 0.998, warmup=True) for s in range(1, n + 1))
    closed = math.factorial(10) * math.factorial(n + 1) / math.factorial(n + 10)
    assert math.isclose(init_share, closed, rel_tol=1e-9) and init_share < 1e-17
    assert math.isclose(math.prod(ema_decay_at(s, 0.998, warmup=False) for s in range(1, n + 1)), 0.998 ** n)
    assert 0.998 ** n > 0.36
    with pytest.raises(ValueError, match="ema step must be >= 1.*got 0"):
        ema_decay_at(0, 0.998, warmup=True)


def test_non_finite_guard_names_the_last_checkpoint():
    check_finite(1.0, 3, None)
    with pytest.raises(NonFiniteLossError, match="step 7.*last good checkpoint is ckpt/x"):
        check_finite(float("nan"), 7, "ckpt/x")
    with pytest.raises(NonFiniteLossError, match="no checkpoint"):
        check_finite(float("inf"), 1, None)


def test_keep_last_k(tmp_path):
    for step in (2, 4, 6, 8):
        d = tmp_path / f"epoch0-global_step{step}"
        d.mkdir()
        (d / "running_states.json").write_text("{}")
    (tmp_path / "epoch0-global_step10.tmp").mkdir()  # an interrupted save: never listed
    (tmp_path / "epoch0-global_step12").mkdir()  # incomplete (no running_states.json)
    assert [p.name for p in prune_checkpoints(tmp_path, 2)] == ["epoch0-global_step2", "epoch0-global_step4"]
    assert [p.name for p in list_checkpoints(tmp_path)] == ["epoch0-global_step6", "epoch0-global_step8"]
    assert prune_checkpoints(tmp_path, 0) == []


def test_torch_backend_checkpoint_round_trip(tmp_path):
    def fresh(seed):
        torch.manual_seed(seed)
        return TorchBackend(torch.nn.Linear(4, 3), dict(lr=1e-2), warmup_steps=3, zero=False, grad_clip=0.5)

    a = fresh(0)
    for _ in range(2):
        a.backward(a.forward(input=torch.ones(2, 4)).pow(2).sum())
        a.step()
    a.save(tmp_path)
    b = fresh(1)
    b.load(tmp_path)
    assert torch.equal(a.module.weight, b.module.weight)
    assert b.lr_scheduler.last_epoch == 2 and b.lr_scheduler.get_last_lr() == a.lr_scheduler.get_last_lr()
    for backend in (a, b):  # identical next step
        backend.backward(backend.forward(input=torch.ones(2, 4)).pow(2).sum())
        backend.step()
    assert torch.equal(a.module.weight, b.module.weight)
