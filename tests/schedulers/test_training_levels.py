"""PA training levels: window types and probabilities, stage levels, shifts, agreement with inference windows."""
import pytest
import torch

from opensora.schedulers import (
    pa_inference_schedule,
    replacement_schedule,
    pa_window,
    pa_window_latents,
    pa_window_probs,
    pa_window_types,
    sample_pa_training_levels,
    sample_pa_window,
)


def test_window_types_and_latents():
    names = [w.name for w in pa_window_types(6)]
    assert len(names) == 1 + 5 + 5 + 6 and names[0] == "steady" and "t2v:6" in names and "init:6" not in names
    assert [pa_window_latents(n) for n in ("steady", "init:1", "term:5", "t2v:1", "t2v:6")] == [35, 10, 30, 5, 30]
    assert pa_window_latents("steady", keep_x0=False) == 30 and len(pa_window_types(6, keep_x0=False)) == 11
    assert pa_window("init:2").slots(6) == [4, 5] and pa_window("term:2").slots(6) == [0, 1]
    with pytest.raises(ValueError, match="unknown window"):
        pa_window("t2v:2", keep_x0=False)


def test_window_probabilities(gen):
    probs = pa_window_probs(6)
    assert probs["steady"] == 0.5 and probs["init:3"] == pytest.approx(0.5 / 16)
    assert sum(probs.values()) == pytest.approx(1.0)
    grouped = pa_window_probs(6, window_probs={"steady": 2, "t2v": 1, "term:1": 1})
    assert grouped["steady"] == pytest.approx(0.5) and grouped["t2v:4"] == pytest.approx(0.25 / 6)
    assert grouped["init:1"] == 0
    assert pa_window_probs(1, keep_x0=False) == {"steady": 1.0}
    with pytest.raises(ValueError, match="keys must be"):
        pa_window_probs(6, window_probs={"middle": 1.0})
    draws = [sample_pa_window(6, generator=gen).name for _ in range(3000)]
    assert draws.count("steady") / 3000 == pytest.approx(0.5, abs=0.04)
    assert len(set(draws)) == 17


def test_one_window_per_batch_stage_levels_and_mask(gen):
    s_, k_, m = 30, 6, 5
    for _ in range(30):
        t, mask, info = sample_pa_training_levels(4, shift="linear", generator=gen)
        w, ctx = info["window"], info["window"].context * 5
        assert t.shape == (4, info["num_latents"]) == (4, pa_window_latents(w))
        assert bool((t[:, :ctx] == 0).all()) and torch.equal(mask, (torch.arange(t.shape[1]) >= ctx).expand(4, -1))
        for b in range(4):
            want = [1000 * (m * (j + 1) - int(info["stage"][b])) / s_ for j in w.slots(k_)]
            got = t[b, ctx:].reshape(-1, 5)
            assert bool((got == got[:, :1]).all()) and got[:, 0].tolist() == pytest.approx(want, rel=1e-6)
    with pytest.raises(ValueError, match="multiple of num_noisy_chunks"):
        sample_pa_training_levels(2, num_steps=30, num_noisy_chunks=4, generator=gen)


def window_rows(schedule):
    return {tuple(round(v, 6) for v in schedule.window_timesteps(i)[0].tolist())
            for i in range(schedule.num_iterations)}


def test_training_windows_are_exactly_the_inference_windows(gen):
    """Every (type, stage) with shift="linear" is a window of the 60-s plans, and every such window is covered."""
    r = 3.6875
    infer = window_rows(pa_inference_schedule(85, ratio=r)) | window_rows(
        pa_inference_schedule(85, ratio=r, num_ref_chunks=0))
    train = set()
    for w in pa_window_types(6):
        for _ in range(40):
            t, _, _ = sample_pa_training_levels(16, ratio=r, shift="linear", window=w, generator=gen)
            train |= {tuple(round(v, 3) for v in row.tolist()) for row in t.double()}
    infer = {tuple(round(v, 3) for v in row) for row in infer}
    assert train == infer


def test_linear_shift_std_and_clamp(gen):
    n = 20_000
    t, _, info = sample_pa_training_levels(n, window="steady", ratio=1.0, generator=gen)
    delta = info["shift"]
    assert delta.shape == (n, 1) and float(delta.std()) == pytest.approx(0.4 * 1000 / 30, rel=0.03)
    base = torch.tensor([[1000 * (5 * (j + 1) - s) / 30 for j in range(6)] for s in range(5)], dtype=torch.float64)
    raw = (base[info["stage"]].repeat_interleave(5, dim=1) + delta).clamp(0, 999)
    assert torch.allclose(t[:, 5:].double(), raw, atol=1e-3) and float(t.max()) <= 999
    r = torch.full((n, 1), 3.6875, dtype=torch.float64)
    t_r, _, info_r = sample_pa_training_levels(n, window="steady", ratio=r, generator=torch.Generator().manual_seed(1))
    u = info_r["raw"] / 1000
    assert torch.allclose(t_r[:, 5:].double(), 1000 * 3.6875 * u / (1 + 2.6875 * u), atol=1e-3)
    _, _, var = sample_pa_training_levels(n, window="term:2", shift="linear-variance", generator=gen)
    assert var["shift"].shape == (n, 10) and float(var["shift"].std()) == pytest.approx(100 / 30, rel=0.03)


def test_reproducible_from_generator():
    a = sample_pa_training_levels(3, generator=torch.Generator().manual_seed(7))
    b = sample_pa_training_levels(3, generator=torch.Generator().manual_seed(7))
    assert a[2]["name"] == b[2]["name"] and torch.equal(a[0], b[0])


def test_replacement_windows_are_the_full_clip_windows_of_rn_and_rw(gen):
    """rn:K / rw:K+1 with shift="linear" give exactly the full-clip windows of the RN / RW plans (S = 24, K = 3)."""
    assert "rn:3" not in pa_window_probs(3) and "rw:4" not in pa_window_probs(3)
    probs = pa_window_probs(3, window_probs={"steady": 0.5, "rn": 0.25, "rw:4": 0.25})
    assert probs["rn:3"] == probs["rw:4"] == 0.25 and pa_window_latents("rw:4", num_noisy_chunks=3) == 20
    for mode, name in (("clean", "rn:3"), ("renoise", "rw:4")):
        plan = replacement_schedule(12, ratio=1.0, clip_latents=20, context_latents=5, num_steps=24,
                                    context_mode=mode)
        # window_timesteps of RW reports the re-noised context at the clip's level; RN's first clip (no context)
        # is an rw:4 window
        full = {row for row in window_rows(plan) if len(row) == 20 and row[-1] > 0}
        infer = {row for row in full if (row[0] == 0) == (mode == "clean")}
        assert all(len(set(row)) == 1 for row in full - infer)
        want = {(0.0,) * 5 * (mode == "clean") + (1000 * k / 24,) * (20 - 5 * (mode == "clean"))
                for k in range(1, 25)}
        assert {tuple(round(v, 3) for v in row) for row in infer} == {tuple(round(v, 3) for v in r) for r in want}
        train = set()
        for _ in range(20):
            t, mask, info = sample_pa_training_levels(16, num_steps=24, num_noisy_chunks=3, shift="linear",
                                                      window=name, generator=gen)
            assert bool(mask[:, 5 * (mode == "clean"):].all()) and not bool(mask[:, :5 * (mode == "clean")].any())
            train |= {tuple(round(v, 3) for v in row.tolist()) for row in t.double()}
        assert train == {tuple(round(v, 3) for v in r) for r in want}
