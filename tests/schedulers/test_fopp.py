"""FoPP sampler against closed-form counts and brute-force enumeration of its probability formula."""
import itertools
import math

import pytest
import torch

from opensora.schedulers import (
    fopp_complete,
    fopp_log_counts,
    sample_fopp_compositions,
    sample_fopp_training_levels,
    transformed_levels,
)


def d_e(i, j):  # 1-based unit i, level j
    return math.comb(i + j - 2, i - 1)


def d_s(i, j, f, t):
    return math.comb(t - j + f - i, f - i)


def nondecreasing(f, t):
    return list(itertools.combinations_with_replacement(range(1, t + 1), f))


def test_log_counts_match_closed_form_without_overflow():
    f, t = 35, 1000
    log_de, log_ds = fopp_log_counts(f, t)
    for i, j in [(1, 1), (2, 7), (17, 500), (35, 1000), (35, 1)]:
        assert float(log_de[i - 1, j - 1]) == pytest.approx(math.log(d_e(i, j)), rel=1e-10, abs=1e-10)
        assert float(log_ds[i - 1, j - 1]) == pytest.approx(math.log(d_s(i, j, f, t)), rel=1e-10, abs=1e-10)
    total = torch.logsumexp(log_ds[0], dim=0)  # all non-decreasing compositions: C(T + F - 1, F) ~ 1e65
    assert float(total) == pytest.approx(math.log(math.comb(1034, 35)), rel=1e-10)
    assert torch.isfinite(log_de).all() and torch.isfinite(log_ds).all()
    assert len(nondecreasing(3, 3)) == 10  # the paper's Fig. 3 count


@pytest.mark.parametrize("f,t", [(3, 4), (4, 3)])
def test_sampler_matches_enumerated_probability(f, t, gen):
    comps = nondecreasing(f, t)
    prob = {c: sum(1 / (d_e(i, c[i - 1]) * d_s(i, c[i - 1], f, t)) for i in range(1, f + 1)) / (f * t)
            for c in comps}
    assert sum(prob.values()) == pytest.approx(1.0, abs=1e-12)
    n = 100_000
    out = sample_fopp_compositions(n, f, t, generator=gen)
    assert bool((out[:, 1:] >= out[:, :-1]).all()) and int(out.min()) >= 1 and int(out.max()) <= t
    keys, counts = torch.unique(out, dim=0, return_counts=True)
    freq = {tuple(k.tolist()): c / n for k, c in zip(keys, counts.tolist())}
    assert set(freq) <= set(prob)
    assert max(abs(freq.get(c, 0.0) - p) for c, p in prob.items()) < 0.005


def test_anchor_level_uniform_and_completion_uniform(gen):
    f, t, n = 4, 5, 60_000
    frame = torch.full((n,), 1)
    level = torch.randint(1, t + 1, (n,), generator=gen)
    out = fopp_complete(frame, level, f, t, generator=gen)
    assert torch.equal(out[:, 1], level)  # the chosen frame keeps its uniform timestep
    hist = torch.bincount(out[:, 1], minlength=t + 1)[1:].double() / n
    assert float((hist - 1 / t).abs().max()) < 0.01
    sub = out[level == 3]  # given (f, t_f), uniform over the consistent non-decreasing compositions
    support = [c for c in nondecreasing(f, t) if c[1] == 3]
    keys, counts = torch.unique(sub, dim=0, return_counts=True)
    assert sorted(tuple(k.tolist()) for k in keys) == sorted(support)
    assert float((counts.double() / len(sub) - 1 / len(support)).abs().max()) < 0.01


def test_edge_cases(gen):
    assert torch.equal(sample_fopp_compositions(50, 4, 1, generator=gen), torch.ones(50, 4, dtype=torch.int64))
    single = sample_fopp_compositions(20_000, 1, 6, generator=gen)
    assert single.shape == (20_000, 1) and float((torch.bincount(single[:, 0])[1:] / 20_000 - 1 / 6).abs().max()) < 0.02
    top = fopp_complete(torch.tensor([0]), torch.tensor([7]), 5, 7, generator=gen)
    bottom = fopp_complete(torch.tensor([4]), torch.tensor([1]), 5, 7, generator=gen)
    assert top.tolist() == [[7] * 5] and bottom.tolist() == [[1] * 5]
    big = sample_fopp_compositions(16, 35, 300, generator=gen)
    assert bool((big[:, 1:] >= big[:, :-1]).all()) and int(big.min()) >= 1 and int(big.max()) <= 300


def test_training_levels_chunk_and_frame(gen):
    table = transformed_levels(30, 3.6875).float()
    t, mask, info = sample_fopp_training_levels(8, ratio=3.6875, generator=gen)
    assert t.shape == (8, 35) and bool((t[:, :5] == 0).all()) and torch.equal(mask, t > 0)
    chunks = t[:, 5:].reshape(8, 6, 5)
    assert bool((chunks == chunks[..., :1]).all()) and bool((chunks[:, 1:, 0] >= chunks[:, :-1, 0]).all())
    assert torch.equal(chunks[..., 0], table[info["steps"]])
    t, mask, info = sample_fopp_training_levels(8, granularity="frame", keep_x0=False, ratio=3.6875, generator=gen)
    assert t.shape == (8, 30) and bool(mask.all()) and info["steps"].shape == (8, 30)
    assert bool((t[:, 1:] >= t[:, :-1]).all()) and bool((t > 0).all())
    per_sample = sample_fopp_training_levels(2, ratio=torch.tensor([[1.0], [3.0]]), generator=gen)[0]
    assert per_sample.shape == (2, 35)
