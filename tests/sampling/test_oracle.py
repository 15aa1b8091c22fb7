"""The exact-velocity oracle end-to-end through the sampler (pavdm-method.md section 8)."""
import itertools

import pytest
import torch

from opensora.schedulers.noise_schedules import (
    ad_inference_schedule,
    pa_inference_schedule,
    replacement_schedule,
)

from .oracle import run_oracle

# pavdm-method.md section 2: sigma(30) ... sigma(1), then 0, for r = 3.6875 (rounded to 0.1)
SECTION2 = [1000, 990.7, 981.0, 970.7, 959.9, 948.6, 936.5, 923.8, 910.2, 895.9, 880.6, 864.3, 846.9, 828.2,
            808.2, 786.7, 763.4, 738.2, 710.8, 681.0, 648.4, 612.5, 572.8, 528.8, 479.7, 424.5, 362.0, 290.6,
            208.5, 112.8]
R_BF16 = 3.6875


def _x0(num_latents, batch=1, seed=1):
    return torch.randn(batch, 4, num_latents, 2, 2, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


def _windows(model):
    return [len(idx) for idx, _ in model.calls]


def _per_latent_levels(model, num_latents):
    seq = [[] for _ in range(num_latents)]
    for idx, t in model.calls:
        for i, level in zip(idx.tolist(), t.tolist()):
            if level > 0:
                seq[i].append(level)
    return seq


def _check_common(schedule, x0, out, model, finished, steps):
    assert torch.isfinite(out).all(), "a sentinel leaked into the output"
    assert (out - x0).abs().max().item() < 1e-10
    assert [f.index for f in finished] == list(range(schedule.num_chunks))
    gen = range(schedule.num_ref_chunks * schedule.chunk_size, x0.shape[2])
    seqs = _per_latent_levels(model, x0.shape[2])
    for i in gen:
        assert len(seqs[i]) == steps, f"latent {i} got {len(seqs[i])} noisy evaluations"
        assert all(a >= b for a, b in zip(seqs[i], seqs[i][1:])), f"latent {i}: t increased"
    for idx, t in model.calls:
        assert all(a <= b + 1e-9 for a, b in zip(t.tolist(), t.tolist()[1:])), "window not non-decreasing"


def test_60s_with_reference_445_calls():
    sched = pa_inference_schedule(85, ratio=R_BF16, num_ref_chunks=1)
    x0 = _x0(425)
    out, model, finished = run_oracle(sched, x0)
    assert len(model.calls) == 445
    expected = [10] * 5 + [15] * 5 + [20] * 5 + [25] * 5 + [30] * 5 + [35] * 390 + \
        [w for w in (35, 30, 25, 20, 15, 10) for _ in range(5)]
    assert _windows(model) == expected
    assert sum(expected) == 14825
    _check_common(sched, x0, out, model, finished, 30)
    for seq in _per_latent_levels(model, 425)[5:]:
        assert [round(v, 1) for v in seq] == pytest.approx(SECTION2, abs=0.051)
    assert finished[0].iteration == -1  # the reference chunk comes first, before any call


def test_60s_text_only_450_calls():
    sched = pa_inference_schedule(85, ratio=R_BF16, num_ref_chunks=0)
    x0 = _x0(425)
    out, model, finished = run_oracle(sched, x0)
    assert len(model.calls) == 450
    expected = [5] * 5 + [10] * 5 + [15] * 5 + [20] * 5 + [25] * 5 + [30] * 5 + [35] * 390 + \
        [w for w in (35, 30, 25, 20, 15, 10) for _ in range(5)]
    assert _windows(model) == expected and sum(expected) == 14850
    _check_common(sched, x0, out, model, finished, 30)


def test_emission_order_and_iterations():
    sched = pa_inference_schedule(85, ratio=R_BF16, num_ref_chunks=1)
    _, _, finished = run_oracle(sched, _x0(425))
    # chunk c >= 1 finishes at the end of round c + 5 (30 steps after it entered at call 5 (c - 1))
    assert [f.iteration for f in finished[1:]] == [5 * (c - 1) + 29 for c in range(1, 85)]


GRID = [(s, k, c, n, refs) for s, k, c, n, refs in itertools.product((4, 6), (1, 2, 3), (1, 2), (5, 7), (0, 1))
        if s % k == 0]


@pytest.mark.parametrize("steps,k,c,n,refs", GRID)
def test_pa_grid(steps, k, c, n, refs):
    sched = pa_inference_schedule(n, ratio=2.0, chunk_size=c, num_noisy_chunks=k, num_steps=steps,
                                  num_ref_chunks=refs)
    x0 = _x0(n * c, batch=2)
    out, model, finished = run_oracle(sched, x0)
    assert len(model.calls) == steps + (steps // k) * (n - 1 - refs)
    _check_common(sched, x0, out, model, finished, steps)
    assert max(_windows(model)) <= (k + 1) * c


def test_fixed_length_start_420_calls():
    sched = pa_inference_schedule(85, ratio=R_BF16, num_ref_chunks=6, fixed_start=True)
    x0 = _x0(425)
    out, model, finished = run_oracle(sched, x0)
    assert len(model.calls) == 420 and out.shape[2] == 425
    assert set(_windows(model)[:390]) == {35}
    assert torch.isfinite(out).all() and (out - x0).abs().max().item() < 1e-10


@pytest.mark.parametrize("mode,calls", [("clean", 1260), ("renoise", 1260)])
def test_replacement_baselines_60s(mode, calls):
    sched = replacement_schedule(85, ratio=2.421875, clip_latents=15, context_latents=5, context_mode=mode)
    x0 = _x0(425)
    out, model, finished = run_oracle(sched, x0)
    assert len(model.calls) == calls
    assert set(_windows(model)) == {15}
    assert torch.isfinite(out).all() and (out - x0).abs().max().item() < 1e-10
    ctx_levels = [t[0].item() for idx, t in model.calls[30:]]
    if mode == "clean":
        assert set(ctx_levels) == {0.0}
    else:  # RW: the whole row is constant, context at the active level
        assert all(float(t.min()) == float(t.max()) for _, t in model.calls)


def test_replacement_cost_parity_with_reference():
    sched = replacement_schedule(85, ratio=3.6875, clip_latents=35, context_latents=5, num_ref_chunks=1)
    x0 = _x0(425)
    out, model, _ = run_oracle(sched, x0)
    assert len(model.calls) == 420 and sum(_windows(model)) == 14700
    assert (out - x0).abs().max().item() < 1e-10


@pytest.mark.parametrize("s,refs", [(6, 1), (10, 0), (5, 1)])
def test_ad(s, refs):
    sched = ad_inference_schedule(12, ratio=3.6875, step_difference=s, num_ref_chunks=refs, max_active_chunks=6)
    x0 = _x0(60)
    out, model, finished = run_oracle(sched, x0)
    assert len(model.calls) == 30 + (12 - refs - 1) * s
    _check_common(sched, x0, out, model, finished, 30)
