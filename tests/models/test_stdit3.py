"""STDiT3: Hub key layout, per-frame timesteps, parity with an independent functional reference, loading.

Tiny random-weight models (depth 2, hidden 64, 2 heads) on CPU in fp32; the full-size layouts are built on
the meta device (no memory, no weights).
"""
import pytest
import torch

from opensora.models.stdit import STDiT3, STDiT3Config
from opensora.models.stdit.stdit3 import ROPE_KEY
from opensora.registry import MODELS, build_module
from opensora.utils.ckpt import CheckpointMismatchError, WeightsNotFoundError, save_safetensors

from reference_stdit3 import reference_forward  # tests/models is on sys.path (pytest rootdir import)

TINY = dict(depth=2, hidden_size=64, num_heads=2, caption_channels=32, model_max_length=8)
REF_CFG = dict(STDiT3Config(**TINY).to_dict(), **TINY)
TOL = dict(atol=1e-5, rtol=1e-5)

XL_TOP = {
    "rope.freqs": (36,),
    "x_embedder.proj.weight": (1152, 4, 1, 2, 2), "x_embedder.proj.bias": (1152,),
    "t_embedder.mlp.0.weight": (1152, 256), "t_embedder.mlp.0.bias": (1152,),
    "t_embedder.mlp.2.weight": (1152, 1152), "t_embedder.mlp.2.bias": (1152,),
    "fps_embedder.mlp.0.weight": (1152, 256), "fps_embedder.mlp.0.bias": (1152,),
    "fps_embedder.mlp.2.weight": (1152, 1152), "fps_embedder.mlp.2.bias": (1152,),
    "t_block.1.weight": (6912, 1152), "t_block.1.bias": (6912,),
    "y_embedder.y_embedding": (300, 4096),
    "y_embedder.y_proj.fc1.weight": (1152, 4096), "y_embedder.y_proj.fc1.bias": (1152,),
    "y_embedder.y_proj.fc2.weight": (1152, 1152), "y_embedder.y_proj.fc2.bias": (1152,),
    "final_layer.scale_shift_table": (2, 1152),
    "final_layer.linear.weight": (32, 1152), "final_layer.linear.bias": (32,),
}
XL_BLOCK = {
    "scale_shift_table": (6, 1152),
    "attn.qkv.weight": (3456, 1152), "attn.qkv.bias": (3456,),
    "attn.q_norm.weight": (72,), "attn.k_norm.weight": (72,),
    "attn.proj.weight": (1152, 1152), "attn.proj.bias": (1152,),
    "cross_attn.q_linear.weight": (1152, 1152), "cross_attn.q_linear.bias": (1152,),
    "cross_attn.kv_linear.weight": (2304, 1152), "cross_attn.kv_linear.bias": (2304,),
    "cross_attn.proj.weight": (1152, 1152), "cross_attn.proj.bias": (1152,),
    "mlp.fc1.weight": (4608, 1152), "mlp.fc1.bias": (4608,),
    "mlp.fc2.weight": (1152, 4608), "mlp.fc2.bias": (1152,),
}


def expected_xl_layout() -> dict:
    layout = dict(XL_TOP)
    for stack in ("spatial_blocks", "temporal_blocks"):
        for i in range(28):
            layout.update({f"{stack}.{i}.{k}": v for k, v in XL_BLOCK.items()})
    return layout


def randomize(model: STDiT3, seed: int = 1) -> STDiT3:
    """Give every weight a non-trivial value (Open-Sora's init zeroes the temporal out-projections)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if name == ROPE_KEY:
                continue
            if p.ndim > 1 and "scale_shift_table" not in name:
                p.copy_(noise * p[0].numel() ** -0.5)
            elif name.endswith("norm.weight"):
                p.copy_(1 + 0.2 * noise)
            else:
                p.copy_(0.3 * noise)
    return model


def tiny_model(**overrides) -> STDiT3:
    return randomize(STDiT3(STDiT3Config(**{**TINY, **overrides}))).eval()


def inputs(b=2, t=3, h=4, w=6, seed=0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return dict(
        x=torch.randn(b, 4, t, h, w, generator=gen),
        y=torch.randn(b, 1, 8, 32, generator=gen),
        mask=torch.tensor([[1] * 5 + [0] * 3, [1] * 8])[:b],
        fps=24, height=8 * h, width=8 * w,
    )


def run(model, t, **kw):
    with torch.no_grad():
        return model(timestep=t, **kw)


def run_reference(model, t, **kw):
    return reference_forward(model.state_dict(), REF_CFG, timestep=t, **kw)


# ------------------------------------------------------------------ (a) layout of the published checkpoints
def test_xl2_state_dict_matches_hub_layout():
    with torch.device("meta"):
        model = build_module(dict(type="STDiT3-XL/2"), MODELS)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert len(shapes) == 973
    assert shapes == expected_xl_layout()
    assert sum(p.numel() for p in model.parameters()) == 1_207_643_972
    assert sum(p.numel() for p in model.spatial_blocks.parameters()) == 595_159_488
    assert "pos_embed.inv_freq" not in shapes  # non-persistent, never saved


def test_3b2_state_dict_layout():
    with torch.device("meta"):
        model = build_module(dict(type="STDiT3-3B/2"), MODELS)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert set(shapes) == set(expected_xl_layout())
    assert shapes["spatial_blocks.0.attn.qkv.weight"] == (3 * 1872, 1872)
    assert shapes["temporal_blocks.27.attn.q_norm.weight"] == (72,)
    assert shapes["t_block.1.weight"] == (6 * 1872, 1872)
    assert shapes["rope.freqs"] == (36,)


def test_config_accepts_every_open_sora_field_and_rejects_typos():
    hub = dict(input_size=[None, None, None], input_sq_size=512, in_channels=4, patch_size=[1, 2, 2],
               hidden_size=1152, depth=28, num_heads=16, mlp_ratio=4.0, class_dropout_prob=0.1, pred_sigma=True,
               drop_path=0.0, caption_channels=4096, model_max_length=300, qk_norm=True, enable_flash_attn=False,
               enable_layernorm_kernel=False, enable_sequence_parallelism=False, only_train_temporal=False,
               freeze_y_embedder=True, skip_y_embedder=False)
    config = STDiT3Config(**hub)
    assert config.model_type == "STDiT3" and all(getattr(config, k) == v for k, v in hub.items())
    with pytest.raises(ValueError, match="hiden_size"):
        build_module(dict(type="STDiT3", hiden_size=64), MODELS)


def test_freezing_options():
    model = STDiT3(STDiT3Config(**TINY, only_train_temporal=True))
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"temporal_blocks"}
    model = STDiT3(STDiT3Config(**TINY, freeze_y_embedder=True))
    assert not any(p.requires_grad for p in model.y_embedder.parameters())
    assert not model.rope.freqs.requires_grad


# ------------------------------------------------------------------ (b), (c) one per-frame code path
def test_scalar_timestep_equals_constant_row():
    model, kw = tiny_model(), inputs()
    t = torch.tensor([700.0, 31.5])
    assert torch.equal(run(model, t, **kw), run(model, t[:, None].expand(2, 3), **kw))


def test_x_mask_equals_zero_timesteps_and_reference_on_noisy_frames():
    model, kw = tiny_model(), inputs()
    t, x_mask = torch.tensor([700.0, 400.0]), torch.tensor([[False, True, True], [True, False, True]])
    out = run(model, t, x_mask=x_mask, **kw)
    rows = torch.tensor([[0.0, 700.0, 700.0], [400.0, 0.0, 400.0]])
    assert torch.equal(out, run(model, rows, **kw))
    ref = run_reference(model, t, x_mask=x_mask, **kw)  # Open-Sora's separate t0 path
    keep = x_mask[:, None, :, None, None].expand_as(out)
    torch.testing.assert_close(out[keep], ref[keep], **TOL)


# ------------------------------------------------------------------ (d), (e) parity with the reference
@pytest.mark.parametrize("t", [
    torch.tensor([999.0, 250.0]),
    torch.tensor([[1000.0, 512.3, 3.0], [777.7, 250.0, 0.0]]),
], ids=["scalar_t", "per_frame_t"])
def test_parity_with_reference(t):
    model, kw = tiny_model(), inputs()
    torch.testing.assert_close(run(model, t, **kw), run_reference(model, t, **kw), **TOL)


def test_odd_sizes_are_padded_then_cropped():
    model, kw = tiny_model(), inputs(t=2, h=3, w=5)
    t = torch.tensor([[900.0, 100.0], [500.0, 500.0]])
    out = run(model, t, **kw)
    assert out.shape == (2, 8, 2, 3, 5) and out.dtype == torch.float32
    torch.testing.assert_close(out, run_reference(model, t, **kw), **TOL)


def test_cfg_mask_batch_is_repeated_like_reference():
    model, kw = tiny_model(), inputs()
    kw["mask"] = torch.tensor([[1, 1, 1, 0, 0, 0, 0, 0]])  # one prompt mask for [cond; uncond]
    kw["y"][1, 0] = model.y_embedder.y_embedding
    t = torch.tensor([600.0, 600.0])
    torch.testing.assert_close(run(model, t, **kw), run_reference(model, t, **kw), **TOL)


def test_masked_caption_tokens_have_no_effect():
    model, kw = tiny_model(), inputs()
    t = torch.tensor([600.0, 300.0])
    out = run(model, t, **kw)
    kw["y"][0, 0, 5:] = torch.randn(3, 32)  # tokens past sample 0's mask
    assert torch.equal(out, run(model, t, **kw))


# ------------------------------------------------------------------ (f) loading round trips
def _formats(model, tmp_path):
    sd = model.state_dict()
    save_safetensors(sd, tmp_path / "w.safetensors")
    torch.save(sd, tmp_path / "w.pt")
    no_rope = {k: v for k, v in sd.items() if k != ROPE_KEY}
    save_safetensors(no_rope, tmp_path / "no_rope.safetensors")
    model.save_pretrained(tmp_path / "snapshot")
    return ["w.safetensors", "w.pt", "no_rope.safetensors", "snapshot"]


def test_round_trip_through_every_format(tmp_path):
    model, kw = tiny_model(), inputs()
    t = torch.tensor([[900.0, 500.0, 100.0], [30.0, 20.0, 10.0]])
    expected = run(model, t, **kw)
    for name in _formats(model, tmp_path):
        overrides = {} if name == "snapshot" else TINY
        for loaded in (STDiT3.from_pretrained(tmp_path / name, **overrides),
                       build_module(dict(type="STDiT3", from_pretrained=str(tmp_path / name), **overrides), MODELS)):
            loaded.eval()
            assert torch.equal(loaded.rope.freqs, model.rope.freqs), name
            assert torch.equal(loaded.pos_embed.inv_freq, model.pos_embed.inv_freq), name
            assert torch.equal(run(loaded, t, **kw), expected), name


def test_snapshot_config_is_overridable(tmp_path):
    tiny_model().save_pretrained(tmp_path)
    loaded = STDiT3.from_pretrained(tmp_path, class_dropout_prob=0.0, grad_ckpt=True)
    assert loaded.config.class_dropout_prob == 0.0 and loaded.gradient_checkpointing


def test_derived_buffers_are_restored_by_init_weights():
    model = tiny_model()
    model.pos_embed.inv_freq.fill_(float("nan"))
    with torch.no_grad():
        model.rope.freqs.fill_(float("nan"))
    model._init_weights(model.pos_embed)
    model._init_weights(model.rope)
    assert torch.equal(model.pos_embed.inv_freq, tiny_model().pos_embed.inv_freq)
    assert torch.equal(model.rope.freqs, tiny_model().rope.freqs)


# ------------------------------------------------------------------ (g) clear errors
def test_missing_checkpoint_names_the_path(tmp_path):
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(WeightsNotFoundError, match="nope.safetensors"):
        build_module(dict(type="STDiT3", from_pretrained=str(missing), **TINY), MODELS)


def test_wrong_keys_are_listed(tmp_path):
    sd = tiny_model().state_dict()
    sd["blocks.0.attn.proj.weight"] = sd.pop("spatial_blocks.0.attn.proj.weight")
    sd["final_layer.linear.bias"] = torch.zeros(5)
    save_safetensors(sd, tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointMismatchError) as err:
        STDiT3.from_pretrained(tmp_path / "bad.safetensors", **TINY)
    for key in ("spatial_blocks.0.attn.proj.weight", "blocks.0.attn.proj.weight", "final_layer.linear.bias"):
        assert key in str(err.value)


@pytest.mark.parametrize("change, needle", [
    (dict(timestep=torch.zeros(2, 5)), r"timestep has shape \(2, 5\); expected \(B,\) = \(2,\) or \(B, T\) = \(2, 3\)"),
    (dict(x=torch.zeros(2, 3, 3, 4, 6)), r"x has shape \(2, 3, 3, 4, 6\); expected \(B, 4, T, H, W\)"),
    (dict(mask=torch.ones(2, 7)), r"mask has shape \(2, 7\)"),
    (dict(x_mask=torch.ones(2, 4, dtype=torch.bool)), r"x_mask has shape \(2, 4\)"),
    (dict(y=torch.zeros(2, 1, 8, 31)), r"y has shape \(2, 1, 8, 31\)"),
    (dict(fps=None), "fps is required"),
    (dict(height=None), "height is required"),
    (dict(mask=torch.zeros(2, 8)), "at least one valid token"),
])
def test_bad_inputs_raise_value_errors(change, needle):
    kw = dict(inputs(), t=torch.tensor([1.0, 2.0]))
    kw.update({("t" if k == "timestep" else k): v for k, v in change.items()})
    with pytest.raises(ValueError, match=needle):
        run(tiny_model(depth=1), **kw)


# ------------------------------------------------------------------ caption dropout
def test_caption_dropout_is_explicit_and_off_in_eval():
    model, kw = tiny_model(class_dropout_prob=0.5), inputs()
    t = torch.tensor([500.0, 500.0])
    plain = run(model, t, **kw)
    assert torch.equal(run(model, t, caption_drop=torch.tensor([False, False]), **kw), plain)
    null = dict(kw, y=kw["y"].clone())
    null["y"][1, 0] = model.y_embedder.y_embedding
    assert torch.equal(run(model, t, caption_drop=torch.tensor([False, True]), **kw), run(model, t, **null))
    model.train()
    draws = [run(model, t, generator=torch.Generator().manual_seed(3), **kw) for _ in range(2)]
    assert torch.equal(draws[0], draws[1])
    model.eval()
    assert torch.equal(run(model, t, generator=torch.Generator().manual_seed(3), **kw), plain)


# ------------------------------------------------------------------ (h) bf16 and flash-attn
def test_bf16_runs_and_rounds_the_timestep_like_open_sora():
    model, kw = tiny_model(depth=1), inputs()
    ref32 = run(model, torch.tensor([999.0, 999.0]), **kw)
    assert not torch.equal(ref32, run(model, torch.tensor([1000.0, 1000.0]), **kw))  # fp32: not rounded
    model = model.to(torch.bfloat16)
    out999 = run(model, torch.tensor([999.0, 999.0]), **kw)
    assert out999.dtype == torch.float32 and torch.isfinite(out999).all()
    assert torch.equal(out999, run(model, torch.tensor([1000.0, 1000.0]), **kw))  # bf16(999) == 1000
    assert (out999 - ref32).abs().mean() < 0.1 * ref32.abs().mean()


@pytest.mark.gpu
def test_flash_attention_matches_sdpa_on_cuda():
    pytest.importorskip("flash_attn")
    model, kw = tiny_model().cuda().to(torch.bfloat16), inputs()
    kw = {k: v.cuda() if torch.is_tensor(v) else v for k, v in kw.items()}
    t = torch.tensor([[900.0, 500.0, 100.0], [30.0, 20.0, 10.0]], device="cuda")
    sdpa = run(model, t, **kw)
    for module in model.modules():
        if hasattr(module, "enable_flash_attn"):
            module.enable_flash_attn = True
    torch.testing.assert_close(run(model, t, **kw), sdpa, atol=5e-2, rtol=5e-2)


# ------------------------------------------------------------------ (i) gradient checkpointing
def test_gradient_checkpointing_gives_the_same_gradients():
    kw = inputs()
    t = torch.tensor([[900.0, 500.0, 100.0], [30.0, 20.0, 10.0]])
    grads = []
    for flag in (False, True):
        model = tiny_model(class_dropout_prob=0.0, grad_ckpt=flag).train()
        assert model.gradient_checkpointing is flag
        model(timestep=t, **kw).square().mean().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert list(grads[0]) == list(grads[1]) == trainable
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], atol=1e-6, rtol=1e-5, msg=name)


def test_drop_path_is_identity_in_eval():
    kw, t = inputs(), torch.tensor([100.0, 200.0])
    assert torch.equal(run(tiny_model(drop_path=0.3), t, **kw), run(tiny_model(), t, **kw))
