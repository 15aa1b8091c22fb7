"""Cost model: the FLOP formula against FlopCounterMode, activation estimates against measurements, and the
dry-run cost section for the real XL/2 60-s settings (no weights loaded)."""
import json

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from opensora.acceleration.cost_model import (
    CallShape,
    counted_flops,
    parameter_count,
    plan_flops,
    stdit3_config,
    stdit3_flops,
    stdit3_inference_activation_bytes,
    stdit3_training_activation_bytes,
)
from opensora.models.stdit import STDiT3, STDiT3Config
from opensora.utils.memory import TensorMemoryTracker


def small(**kw):
    return STDiT3Config(**{**dict(depth=2, hidden_size=64, num_heads=2, caption_channels=32, model_max_length=8), **kw})


def run(model, shape: CallShape, grad=False):
    gen = torch.Generator().manual_seed(0)
    b, t, h, w = shape.batch, shape.frames, shape.height, shape.width
    x = torch.randn(b, model.config.in_channels, t, h, w, generator=gen)
    y = torch.randn(b, 1, shape.caption_tokens, model.config.caption_channels, generator=gen)
    with torch.set_grad_enabled(grad):
        levels = torch.rand(b, generator=gen)[:, None].expand(b, t) * 1000  # one level per sample (any patch_t)
        return model(x, levels, y, fps=24, height=8 * h, width=8 * w)


@pytest.mark.parametrize("cfg,shape", [
    (small(), CallShape(2, 3, 6, 8, 8)),
    (small(hidden_size=96, num_heads=3, mlp_ratio=3.0), CallShape(1, 5, 7, 9, 6)),  # odd sizes: ceil patches
    (small(patch_size=(2, 2, 2), pred_sigma=False), CallShape(2, 4, 4, 6, 8)),
])
def test_flop_formula_matches_the_counter(cfg, shape):
    model = STDiT3(cfg).eval()
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:  # MATH: attention as bmm
        run(model, shape)
    counts = counter.get_flop_counts()["Global"]
    measured_attention = counts[torch.ops.aten.bmm]
    formula = stdit3_flops(cfg, shape)
    assert formula["total"] == pytest.approx(counter.get_total_flops(), rel=0.05)
    assert formula["attention"] == pytest.approx(measured_attention, rel=0.05)
    assert formula["rest"] == pytest.approx(counter.get_total_flops() - measured_attention, rel=0.05)


def test_xl2_flops_match_the_published_figures():
    xl = stdit3_config(dict(type="STDiT3-XL/2", from_pretrained="hpcai-tech/OpenSora-STDiT-v3"))
    assert xl.hidden_size == 1152 and xl.depth == 28
    f51, f119 = (stdit3_flops(xl, CallShape(1, n, 30, 53, 300)) for n in (15, 35))
    assert f51["tokens"] == 6075 and f119["tokens"] == 14175
    assert f51["total"] / 1e12 == pytest.approx(13.5, abs=0.05)  # opensora-v1.2-compat.md section 9
    assert f119["total"] / 1e12 == pytest.approx(31.5, abs=0.05)
    sp = stdit3_flops(xl, CallShape(2, 35, 30, 53, 300), sp_size=8)  # 405 tokens -> 408 padded
    assert sp["total"] / 8 < sp["per_rank"] < sp["total"] / 8 * 1.02


def test_sp_per_rank_counts_padding_and_repeated_parts():
    cfg = small()
    f = stdit3_flops(cfg, CallShape(2, 3, 5, 6, 8), sp_size=2)  # S = 9 -> 10 padded
    padded = stdit3_flops(cfg, CallShape(2, 3, 5, 8, 8))  # 12 tokens: not the same, just bigger than 9
    assert f["per_rank"] > f["total"] / 2 and f["per_rank"] < padded["total"]


@pytest.mark.parametrize("hidden", [128, 256])
def test_inference_activation_estimate_within_20_percent(hidden):
    cfg = small(hidden_size=hidden, num_heads=4)
    shape = CallShape(2, 6, 16, 16, 8)
    model = STDiT3(cfg).eval()
    with TensorMemoryTracker() as mem:
        run(model, shape)
    estimate = stdit3_inference_activation_bytes(cfg, shape, 1, "fp32")["peak"]
    assert estimate == pytest.approx(mem.peak, rel=0.2)


@pytest.mark.parametrize("grad_ckpt", [False, True])
def test_training_activation_estimate_within_10_percent(grad_ckpt):
    cfg = small(hidden_size=128, depth=3, class_dropout_prob=0.0, grad_ckpt=grad_ckpt)
    shape = CallShape(2, 4, 8, 8, 8)
    model = STDiT3(cfg).train()
    weights = {p.untyped_storage().data_ptr() for p in [*model.parameters(), *model.buffers()]}
    saved = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in weights:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run(model, shape, grad=True)
    estimate = stdit3_training_activation_bytes(cfg, shape, 1, "fp32", grad_ckpt=grad_ckpt)["total"]
    measured = sum(saved.values())
    if grad_ckpt:  # checkpointing saves each block's input; the recomputed block's activations come later
        estimate -= stdit3_training_activation_bytes(cfg, shape, 1, "fp32")["per_block"]
    assert estimate == pytest.approx(measured, rel=0.1)


def test_parameter_counts_without_weights():
    assert parameter_count(dict(type="STDiT3-XL/2", from_pretrained="hpcai-tech/OpenSora-STDiT-v3"))[0] \
        == 1_207_643_972
    assert parameter_count(dict(type="OpenSoraVAE_V1_2", from_pretrained="hpcai-tech/OpenSora-VAE-v1.2"))[0] \
        == 393_341_007
    assert parameter_count(dict(type="t5", from_pretrained="DeepFloyd/t5-v1_1-xxl"))[0] == 4_762_310_656
    count, how = parameter_count(dict(type="t5", from_pretrained="/nonexistent/t5"))
    assert count is None and "unknown T5" in how


def test_counted_flops_on_meta_tensors_cost_nothing():
    with torch.device("meta"):
        lin = torch.nn.Linear(1000, 2000)
        x = torch.empty(3000, 1000)
    assert counted_flops(lambda: lin(x)) == 2 * 3000 * 1000 * 2000


def test_plan_flops_sums_the_calls():
    record = {"calls": [{"timesteps": [0.0] * 3}, {"timesteps": [0.0] * 3}, {"timesteps": [0.0] * 2}]}
    cfg = small()
    out = plan_flops(record, cfg, latent_hw=(6, 8), videos=1)
    one = {n: stdit3_flops(cfg, CallShape(2, n, 6, 8, 8))["total"] for n in (2, 3)}
    assert out["batch"] == 2 and out["num_calls"] == 3
    assert [e["calls"] for e in out["per_window"]] == [1, 2]
    assert out["total"]["total"] == pytest.approx(one[2] + 2 * one[3])
    json.dumps(out)
