"""Sampler bookkeeping: bounded memory, state round trip, input checks, window captions."""
import pytest
import torch

from opensora.sampling.conditioning import CaptionTable
from opensora.sampling.sliding_window import SlidingWindowSampler
from opensora.schedulers.noise_schedules import pa_inference_schedule
from opensora.schedulers.plan import ChunkSchedule

from .oracle import OracleModel, oracle_denoiser


def _sampler(schedule, x0, state=None, on_call=None, reference="auto"):
    model = OracleModel(x0)
    if reference == "auto":
        reference = x0[:, :, : schedule.num_ref_chunks * schedule.chunk_size] if schedule.num_ref_chunks else None
    return SlidingWindowSampler(schedule, oracle_denoiser(model, x0.shape[0], schedule.num_chunks,
                                                          schedule.chunk_size),
                                latent_shape=(4, 2, 2), generators=[torch.Generator().manual_seed(0)],
                                reference=reference, dtype=torch.float64, state=state, on_call=on_call)


def test_live_chunks_stay_within_the_window():
    sched = pa_inference_schedule(85, ratio=3.6875, num_ref_chunks=1)
    x0 = torch.randn(1, 4, 425, 2, 2, dtype=torch.float64)
    live = []
    sampler = _sampler(sched, x0, on_call=lambda step: live.append(len(sampler._chunks)))
    assert len(list(sampler)) == 85
    assert max(live) <= 7 + 1  # the window's 7 chunks, plus a finished one waiting to be yielded


def _inexact(z, t, latent_index):  # depends on the noise, so results depend on the RNG state
    return -0.3 * z + torch.sin(latent_index.to(z.dtype))[None, None, :, None, None]


def _plain(sched, state=None):
    return SlidingWindowSampler(sched, _inexact, latent_shape=(4, 2, 2), state=state,
                                generators=[torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)])


def test_state_round_trip_mid_run_is_bitwise():
    sched = pa_inference_schedule(12, ratio=2.0, num_ref_chunks=0, num_steps=6, num_noisy_chunks=3)
    full = torch.cat([c.latents for c in _plain(sched)], dim=2)
    for stop in (1, 4, 7):
        first = _plain(sched)
        it = iter(first)
        head = [next(it) for _ in range(stop)]
        resumed = torch.cat([c.latents for c in head] + [c.latents for c in _plain(sched, first.state())], dim=2)
        assert torch.equal(full, resumed)
    assert not torch.equal(full[0], full[1])  # per-sample generators give different videos


def test_generated_chunk_must_start_from_noise():
    levels = torch.tensor([[500.0, 1000.0], [0.0, 500.0], [0.0, 0.0]], dtype=torch.float64)
    sched = ChunkSchedule(levels=levels, chunk_size=1)
    with pytest.raises(ValueError, match="must start from pure noise"):
        list(_sampler(sched, torch.randn(1, 4, 2, 2, 2, dtype=torch.float64)))


def test_reference_shape_is_checked():
    sched = pa_inference_schedule(4, ratio=2.0, num_ref_chunks=1, num_steps=2, num_noisy_chunks=2)
    with pytest.raises(ValueError, match=r"reference must be latents of shape .* \(1, 4, 5, 2, 2\)"):
        _sampler(sched, torch.randn(1, 4, 20, 2, 2, dtype=torch.float64), reference=None)


def test_window_caption_is_the_newest_chunks():
    y = torch.arange(3.0)[:, None, None, None].expand(3, 1, 2, 1)
    table = torch.tensor([[0, 0, 1, 2], [0, 1, 1, 1]])
    captions = CaptionTable(y, torch.ones(3, 2, dtype=torch.long), table, chunk_size=5)
    window = torch.arange(5, 15)  # chunks 1 and 2
    got, _ = captions.for_window(window)
    assert got[:, 0, 0, 0].tolist() == [1.0, 1.0]
