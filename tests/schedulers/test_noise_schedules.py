"""Inference schedules (PA, AD, RN/RW) against closed forms, the 60-s numbers and an exact-velocity oracle."""
import itertools
import math

import pytest
import torch

from opensora.schedulers import (
    ChunkSchedule,
    ad_inference_schedule,
    ad_step_matrix,
    pa_inference_schedule,
    replacement_schedule,
    timestep_ratio,
)

from sched_oracle import PA_60S_COLUMN, walk

R60 = 3.6875


def sigma(k, s, r):
    """Independent closed form of the transformed level of k remaining steps."""
    u = k / s
    return 1000 * r * u / (1 + (r - 1) * u)


def column_steps(col):
    """A column's distinct levels in order (consecutive repeats dropped)."""
    out = [float(col[0])]
    for v in col[1:].tolist():
        if v != out[-1]:
            out.append(v)
    return out


def assert_invariants(sch: ChunkSchedule, num_steps: int, max_window_chunks=None):
    lv, table = sch.levels, [sigma(k, num_steps, sch.meta["ratio"]) for k in range(num_steps, -1, -1)]
    assert bool((lv[1:] <= lv[:-1]).all()), "a column increases"
    assert bool((lv[-1] == 0).all())
    finish = [int((col > 0).sum()) for col in lv.T]  # first row at which each chunk is clean
    assert finish == sorted(finish), "chunks do not finish in order"
    for c in range(sch.num_ref_chunks, sch.num_chunks):
        assert column_steps(lv[:, c]) == pytest.approx(table, abs=1e-9), f"chunk {c} is off the S-step schedule"
    for i in range(sch.num_iterations):
        row = sch.window_timesteps(i)[0]
        assert bool((row[1:] >= row[:-1]).all()), f"iteration {i}: window not non-decreasing"
        if max_window_chunks is not None:
            assert len(sch.window(i)) <= max_window_chunks


def test_pa_60s_counts_and_windows():
    r = float(timestep_ratio(240, 426, 119, bf16=True))
    assert r == R60
    ref = pa_inference_schedule(85, ratio=r, num_ref_chunks=1)
    lens = [len(ref.window(i)) * 5 for i in range(ref.num_iterations)]
    assert ref.num_iterations == 445 == 30 + 83 * 5 and sum(lens) == 14825
    assert lens[:25:5] == [10, 15, 20, 25, 30] and lens[-30::5] == [35, 30, 25, 20, 15, 10]
    assert lens.count(35) == 390 + 5  # steady rounds plus the first termination round
    t2v = pa_inference_schedule(85, ratio=r, num_ref_chunks=0)
    lens = [len(t2v.window(i)) * 5 for i in range(t2v.num_iterations)]
    assert t2v.num_iterations == 450 and sum(lens) == 14850
    assert lens[:30:5] == [5, 10, 15, 20, 25, 30] and lens[30] == 35 and not t2v.context(25)
    fixed = pa_inference_schedule(85, ratio=r, num_ref_chunks=6, fixed_start=True)
    assert fixed.num_iterations == 420 and len(fixed.window(0)) == 7
    assert fixed.levels[0, :7].tolist() == pytest.approx([0, 424.5, 648.4, 786.7, 880.6, 948.6, 1000], abs=0.05)
    emitted = sorted(sum((ref.emitted(i) for i in range(445)), ref.initially_done()))
    assert emitted == list(range(85))


def test_pa_every_latent_follows_the_60s_column():
    sch = pa_inference_schedule(85, ratio=R60)
    for c in range(1, 85):
        assert column_steps(sch.levels[:, c]) == pytest.approx(PA_60S_COLUMN, abs=0.051)


STAGE_TABLE = [[424.5, 648.4, 786.7, 880.6, 948.6, 1000.0], [362.0, 612.5, 763.4, 864.3, 936.5, 990.7],
               [290.6, 572.8, 738.2, 846.9, 923.8, 981.0], [208.5, 528.8, 710.8, 828.2, 910.2, 970.7],
               [112.8, 479.7, 681.0, 808.2, 895.9, 959.9]]


def test_pa_steady_windows_match_closed_form_stage_table():
    s_, k_, m = 30, 6, 5
    sch = pa_inference_schedule(85, ratio=R60)
    for i in range(25, 415):  # steady rounds
        stage, row = i % m, sch.window_timesteps(i)[0]
        chunks = row.reshape(-1, 5)
        assert bool((chunks == chunks[:, :1]).all()) and chunks[0, 0] == 0
        want = [sigma(m * (j + 1) - stage, s_, R60) for j in range(k_)]
        assert chunks[1:, 0].tolist() == pytest.approx(want, rel=1e-12)
        assert chunks[1:, 0].tolist() == pytest.approx(STAGE_TABLE[stage], abs=0.051)
        after = sch.window_timesteps(i, after=True)[0].reshape(-1, 5)[1:, 0]
        assert after.tolist() == pytest.approx([sigma(m * (j + 1) - stage - 1, s_, R60) for j in range(k_)])


def round_based_pa(n_chunks, s_, k_, n_ref):
    """Independent simulation of the reference loop (method section 3): rounds of m calls, emit/append."""
    m, active, pending, rows = s_ // k_, [], list(range(n_ref, n_chunks)), []
    state = [0] * n_ref + [s_] * (n_chunks - n_ref)
    active.append(pending.pop(0))
    while active:
        for _ in range(m):
            rows.append(list(state))
            for c in active:
                state[c] -= 1
        if state[active[0]] == 0:
            active.pop(0)
        if pending:
            active.append(pending.pop(0))
    rows.append(list(state))
    return torch.tensor(rows)


@pytest.mark.parametrize("s_,k_,n,n_ref", [(30, 6, 20, 1), (30, 6, 9, 0), (12, 3, 7, 2), (8, 8, 5, 0), (6, 1, 4, 1)])
def test_pa_equals_round_based_loop_and_ad_with_s_equal_m(s_, k_, n, n_ref):
    sch = pa_inference_schedule(n, ratio=2.0, chunk_size=2, num_noisy_chunks=k_, num_steps=s_, num_ref_chunks=n_ref)
    k = round_based_pa(n, s_, k_, n_ref)
    table = torch.tensor([sigma(j, s_, 2.0) for j in range(s_ + 1)], dtype=torch.float64)
    assert torch.allclose(sch.levels, table[k], rtol=1e-12, atol=1e-9)
    ad = ad_inference_schedule(n, ratio=2.0, chunk_size=2, num_steps=s_, step_difference=s_ // k_,
                               num_ref_chunks=n_ref, max_active_chunks=k_)
    assert torch.equal(ad.levels, sch.levels)
    assert all(ad.window(i) == sch.window(i) for i in range(sch.num_iterations))


def test_k_must_divide_s():
    with pytest.raises(ValueError, match="multiple of num_noisy_chunks=4"):
        pa_inference_schedule(10, ratio=1.0, num_noisy_chunks=4, num_steps=30)
    with pytest.raises(ValueError, match="fixed_start needs"):
        pa_inference_schedule(10, ratio=1.0, num_ref_chunks=2, fixed_start=True)
    with pytest.raises(ValueError, match="at least one chunk to generate"):
        pa_inference_schedule(1, ratio=1.0, num_ref_chunks=1)


@pytest.mark.parametrize("n,s_", [(1, 7), (5, 7), (6, 3)])
def test_ad_iteration_formula_and_limits(n, s_):
    for s in range(0, s_ + 3):
        k = ad_step_matrix(n, num_steps=s_, step_difference=s)
        assert k.shape[0] - 1 == s_ + (n - 1) * min(s, s_)
        active = (k[:-1] != k[1:]).sum(dim=1)
        assert int(active.max()) == (n if s == 0 else min(n, math.ceil(s_ / s)))
    sync = ad_step_matrix(n, num_steps=s_, step_difference=0)
    assert torch.equal(sync, torch.arange(s_, -1, -1)[:, None].expand(-1, n))
    ar = ad_step_matrix(n, num_steps=s_, step_difference=s_)
    for c in range(n):  # frame by frame: unit c runs alone during iterations c S .. (c + 1) S - 1
        col = ar[:, c]
        assert col[: c * s_ + 1].eq(s_).all() and col[(c + 1) * s_:].eq(0).all()


def test_ad_60s_numbers_and_window_limit():
    for s, calls in [(5, 445), (6, 528), (10, 860), (30, 2520)]:
        assert ad_inference_schedule(85, ratio=R60, step_difference=s, num_ref_chunks=1,
                                     max_active_chunks=6).num_iterations == calls
    with pytest.raises(ValueError, match="step_difference >= 5"):
        ad_inference_schedule(85, ratio=R60, step_difference=4, num_ref_chunks=1, max_active_chunks=6)
    sync = ad_inference_schedule(3, ratio=R60, step_difference=0, max_active_chunks=6)
    assert sync.num_iterations == 30 and len(sync.window(0)) == 3
    frame = ad_inference_schedule(4, ratio=R60, step_difference=2, granularity="frame", num_ref_chunks=1)
    assert frame.chunk_size == 1 and frame.num_chunks == 20 and frame.num_context == 5
    assert frame.num_iterations == 30 + 14 * 2 and frame.context(0) == [0, 1, 2, 3, 4]


def test_replacement_baselines_60s():
    rn = replacement_schedule(85, ratio=float(timestep_ratio(240, 426, 51, bf16=True)))
    assert rn.meta["ratio"] == 2.421875
    lens = [len(rn.window(i)) * 5 for i in range(rn.num_iterations)]
    assert rn.num_iterations == 1260 and set(lens) == {15} and sum(lens) == 18900
    assert rn.context(0) == [] and rn.context(30) == [2] and rn.active(30) == [3, 4]
    parity = replacement_schedule(85, ratio=R60, clip_latents=35, num_ref_chunks=1)
    assert parity.num_iterations == 420 and sum(len(parity.window(i)) * 5 for i in range(420)) == 14700
    rw = replacement_schedule(85, ratio=R60, clip_latents=35, num_ref_chunks=1, context_mode="renoise")
    assert torch.equal(rw.levels, parity.levels) and rw.context_mode == "renoise"
    row = rw.window_timesteps(7)[0]
    assert bool((row == row[0]).all()) and row[0] > 0
    with pytest.raises(ValueError, match="multiples"):
        replacement_schedule(10, ratio=1.0, clip_latents=16)


def grid():
    for s_, k_, c, n, n_ref in itertools.product((4, 6, 12), (1, 2, 3), (1, 3), (1, 4, 7, 11), (0, 1, 2)):
        if s_ % k_ == 0 and n > n_ref:
            yield s_, k_, c, n, n_ref


def test_schedule_invariants_over_grid():
    count = 0
    for s_, k_, c, n, n_ref in grid():
        m = s_ // k_
        for keep in (True, False):
            sch = pa_inference_schedule(n, ratio=2.5, chunk_size=c, num_noisy_chunks=k_, num_steps=s_,
                                        num_ref_chunks=n_ref, keep_x0=keep)
            assert sch.num_iterations == s_ + (n - 1 - n_ref) * m
            assert_invariants(sch, s_, max_window_chunks=k_ + int(keep))
        if n_ref >= k_ and n > n_ref:
            fixed = pa_inference_schedule(n, ratio=2.5, chunk_size=c, num_noisy_chunks=k_, num_steps=s_,
                                          num_ref_chunks=n_ref, fixed_start=True)
            assert fixed.num_iterations == m * (n - 1 - n_ref + k_)
            assert_invariants(fixed, s_, max_window_chunks=k_ + 1)
        for s in (0, 1, m, s_, s_ + 1):
            ad = ad_inference_schedule(n, ratio=2.5, chunk_size=c, num_steps=s_, step_difference=s,
                                       num_ref_chunks=n_ref)
            assert ad.num_iterations == s_ + (n - n_ref - 1) * min(s, s_)
            assert_invariants(ad, s_)
        count += 1
    assert count > 40


@pytest.mark.parametrize("kind", ["pa-ref", "pa-t2v", "pa-fixed", "pa-nox0", "ad", "ad-frame", "rn", "rw", "rn-t2v"])
def test_oracle_reproduces_x0(kind, gen):
    s_, k_, c, n = 6, 3, 2, 7  # N = 7 chunks is not a multiple of K
    build = {
        "pa-ref": lambda: pa_inference_schedule(n, ratio=3.0, chunk_size=c, num_noisy_chunks=k_, num_steps=s_),
        "pa-t2v": lambda: pa_inference_schedule(n, ratio=3.0, chunk_size=c, num_noisy_chunks=k_, num_steps=s_,
                                                num_ref_chunks=0),
        "pa-fixed": lambda: pa_inference_schedule(n, ratio=3.0, chunk_size=c, num_noisy_chunks=k_, num_steps=s_,
                                                  num_ref_chunks=3, fixed_start=True),
        "pa-nox0": lambda: pa_inference_schedule(n, ratio=3.0, chunk_size=c, num_noisy_chunks=k_, num_steps=s_,
                                                 keep_x0=False),
        "ad": lambda: ad_inference_schedule(n, ratio=3.0, chunk_size=c, num_steps=s_, step_difference=4,
                                            num_ref_chunks=1),
        "ad-frame": lambda: ad_inference_schedule(n, ratio=3.0, chunk_size=c, num_steps=s_, step_difference=1,
                                                  num_ref_chunks=1, granularity="frame"),
        "rn": lambda: replacement_schedule(n, ratio=3.0, chunk_size=c, clip_latents=6, context_latents=2,
                                           num_steps=s_, num_ref_chunks=1),
        "rw": lambda: replacement_schedule(n, ratio=3.0, chunk_size=c, clip_latents=6, context_latents=2,
                                           num_steps=s_, num_ref_chunks=1, context_mode="renoise"),
        "rn-t2v": lambda: replacement_schedule(n, ratio=3.0, chunk_size=c, clip_latents=6, context_latents=2,
                                               num_steps=s_),
    }
    sch = build[kind]()
    x0 = torch.randn(1, 4, n * c, 2, 2, generator=gen, dtype=torch.float64)
    z, trace = walk(sch, x0, gen)
    assert not torch.isnan(z).any()
    assert torch.allclose(z, x0, atol=1e-10, rtol=0)
    col = [sigma(k, s_, 3.0) for k in range(s_, 0, -1)]
    first = sch.num_ref_chunks * sch.chunk_size  # latents before it are reference (fixed start: partial)
    for lat in range(first, n * c):
        assert trace["seen"][lat] == pytest.approx(col, rel=1e-12), f"latent {lat}"


def test_oracle_60s_pa(gen):
    """The full 60-s plans (reference and text-only) reproduce x0 and see exactly the section-2 column."""
    for n_ref, calls in [(1, 445), (0, 450)]:
        sch = pa_inference_schedule(85, ratio=R60, num_ref_chunks=n_ref)
        x0 = torch.randn(1, 4, 425, 1, 1, generator=gen, dtype=torch.float64)
        z, trace = walk(sch, x0, gen)
        assert len(trace["windows"]) == calls and torch.allclose(z, x0, atol=1e-10, rtol=0)
        for lat in range(5 * n_ref, 425):
            assert trace["seen"][lat] == pytest.approx(PA_60S_COLUMN[:-1], abs=0.051)
