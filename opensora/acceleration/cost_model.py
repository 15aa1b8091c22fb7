"""What a run costs before it runs: model FLOPs, activation memory per rank, resident weights.

Nothing here loads weights: STDiT3 FLOPs and activations are closed-form in its config; parameter counts
come from building the networks on the ``meta`` device (no memory); VAE and T5 FLOPs are counted by
``torch.utils.flop_counter.FlopCounterMode`` on meta tensors (shapes only, no arithmetic).

Notation (one STDiT3 call)
==========================
B        samples in the call (2 x videos with classifier-free guidance)
T', S    token frames and tokens per frame (ceil-divided by the patch); N = B T' S tokens
L        caption keys of the cross-attention (``model_max_length``: the padded tokens are computed too)
C, r     hidden size and MLP ratio; d = depth (d spatial + d temporal blocks); H heads
K        sequence-parallel ranks; S_pad = ceil(S / K) K; n = B T' S_pad / K tokens per rank
e        bytes per element of the activation dtype

FLOPs (2 per multiply-accumulate; matmuls and convolutions, which is what FlopCounterMode counts):

1. each block, linear layers: 2 N C (3C + C) self-attn qkv + proj, 2 N C (C + C) cross q + proj,
   4 B L C^2 cross k/v, 4 r N C^2 MLP  ->  (12 + 4r) N C^2 + 4 B L C^2  (28 N C^2 for r = 4);
2. attention (QK^T and AV): 4 N S C per spatial block, 4 N T' C per temporal block, 4 N L C per block for
   the cross-attention;
3. outside the blocks: the patch embedding 2 N C C_in p, the timestep MLPs 2 B T' (256 C + C^2), the fps MLP
   2 B (256 C + C^2), ``t_block`` 12 B T' C^2, the caption projection 2 B L (C_text C + C^2), the final
   layer 2 N C p C_out, with p = p_t p_h p_w.

Under sequence parallelism each rank computes the blocks and the final layer for S_pad / K tokens per frame
(the attention over all S_pad keys of its H / K heads) and repeats everything outside the blocks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

BYTES = {"fp32": 4, "float32": 4, "bf16": 2, "bfloat16": 2, "fp16": 2, "float16": 2,
         torch.float32: 4, torch.bfloat16: 2, torch.float16: 2}
TIMESTEP_FREQ = 256  # sinusoid width of STDiT3's timestep / fps embedders
# T5 encoders whose config is known without a download (the Hub config.json of DeepFloyd/t5-v1_1-xxl)
T5_CONFIGS = {"DeepFloyd/t5-v1_1-xxl": dict(d_model=4096, d_ff=10240, num_layers=24, num_heads=64, d_kv=64,
                                            vocab_size=32128, feed_forward_proj="gated-gelu",
                                            relative_attention_num_buckets=32)}


def dtype_bytes(dtype) -> int:
    if dtype not in BYTES:
        raise ValueError(f"unknown dtype {dtype!r}; use one of fp32, bf16, fp16")
    return BYTES[dtype]


@dataclass(frozen=True)
class CallShape:
    """One model call: ``batch`` samples of ``frames`` latent frames of ``height`` x ``width`` latents."""

    batch: int
    frames: int
    height: int
    width: int
    caption_tokens: int


def token_grid(config, shape: CallShape) -> tuple[int, int]:
    """(T', S): token frames and tokens per frame (Open-Sora ceil-divides by the patch)."""
    pt, ph, pw = config.patch_size
    return -(-shape.frames // pt), -(-shape.height // ph) * -(-shape.width // pw)


def padded_tokens(num_tokens: int, sp_size: int) -> int:
    return -(-num_tokens // sp_size) * sp_size


def stdit3_flops(config, shape: CallShape, sp_size: int = 1) -> dict:
    """FLOPs of one STDiT3 forward (module docstring, steps 1-3): totals and the busiest rank's share."""
    c, r, depth = config.hidden_size, config.mlp_ratio, config.depth
    b, L = shape.batch, shape.caption_tokens
    t, s = token_grid(config, shape)
    p = math.prod(config.patch_size)
    out_channels = config.in_channels * (2 if config.pred_sigma else 1)
    text_width = c if config.skip_y_embedder else config.caption_channels

    def sharded(tokens_per_frame: int) -> dict:
        n = b * t * tokens_per_frame
        return dict(
            block_linear=depth * 2 * (12 + 4 * r) * n * c * c,
            spatial_attention=depth * 4 * n * tokens_per_frame * c,
            temporal_attention=depth * 4 * n * t * c,
            cross_attention=2 * depth * 4 * n * L * c,
            final_layer=2 * n * c * p * out_channels,
        )

    kv = depth * 4 * b * L * c * c  # per block stack: caption K/V projections

    embed = (2 * b * t * s * c * config.in_channels * p  # patch embedding
             + 2 * b * t * (TIMESTEP_FREQ * c + c * c) + 2 * b * (TIMESTEP_FREQ * c + c * c)  # t and fps MLPs
             + 12 * b * t * c * c  # t_block
             + (0 if config.skip_y_embedder else 2 * b * L * (text_width * c + c * c)))  # caption projection
    full = sharded(s)
    full["block_linear"] += 2 * kv
    full = _summarise(full, embed)
    local = {k: v / sp_size for k, v in sharded(padded_tokens(s, sp_size)).items()}
    local["block_linear"] += kv / sp_size + kv  # head-parallel in spatial blocks, repeated in temporal ones
    full["per_rank"] = _summarise(local, embed)["total"] if sp_size > 1 else full["total"]
    full["tokens"] = b * t * s
    return full


def _summarise(parts: dict, embed: float) -> dict:
    attention = parts["spatial_attention"] + parts["temporal_attention"] + parts["cross_attention"]
    rest = parts["block_linear"] + parts["final_layer"] + embed
    return dict(parts, embed=embed, attention=attention, rest=rest, total=attention + rest)


# ------------------------------------------------------------------------------------------- activations
# Tensors live at the peak of one block without autograd, in units of n C elements (see the docstring of
# ``stdit3_inference_activation_bytes``; checked against ``opensora.utils.memory.TensorMemoryTracker``), and
# saved for backward per block, in the same units (measured with ``torch.autograd.graph.saved_tensors_hooks``:
# 27.3 n C for r = 4, of which 2 r come from the MLP).
PEAK_ATTENTION_PLAIN = 13
PEAK_ATTENTION_SP = 14
SAVED_PER_BLOCK_BASE = 19
SAVED_OUTSIDE_BLOCKS = 5


def stdit3_inference_activation_bytes(config, shape: CallShape, sp_size: int = 1, dtype="bf16") -> dict:
    """Peak activation bytes on one rank during an inference call (no autograd); an estimate.

    Live at the busiest moment of a block, per local token, in units of C elements:
    MLP: residual + modulated input + fc1 output (r) + GELU output (r) = 2 + 2r;
    self-attention: residual + modulated input + qkv (3) + normalised q, k (2) + the kernel's contiguous
    q/k/v and its output (4) + RMSNorm temporaries (2) -> 13; under SP the stacked q/k/v (3) and the
    all-to-all send, receive and concatenated buffers replace the kernel copies -> 14.
    Before the blocks every rank holds the embedded tokens of the whole call once (B T' S C); after them
    the gathered fp32 output (B T' S p C_out, three copies: parts, concatenation, unpatchified).
    Attention kernels are assumed fused (flash / memory-efficient SDPA: no S x S score matrix).
    """
    e = dtype_bytes(dtype)
    c, r = config.hidden_size, config.mlp_ratio
    t, s = token_grid(config, shape)
    n_local = shape.batch * t * padded_tokens(s, sp_size) // sp_size
    attention = PEAK_ATTENTION_SP if sp_size > 1 else PEAK_ATTENTION_PLAIN
    block = e * n_local * c * max(2 + 2 * r, attention)
    embed = e * shape.batch * t * s * c * (1 + 1 / sp_size)
    out = 4 * 3 * shape.batch * t * s * math.prod(config.patch_size) * config.in_channels * 2
    return dict(block=block, embed=embed, output=out, peak=max(block, embed) + out, local_tokens=n_local)


def stdit3_training_activation_bytes(config, shape: CallShape, sp_size: int = 1, dtype="bf16",
                                     grad_ckpt: bool = False) -> dict:
    """Activation bytes saved for backward on one rank (the training peak before backward starts).

    Per block (19 + 2r) n C elements; with gradient checkpointing only each block's input (n C) is kept,
    plus one block's activations while it is recomputed; about 5 n C outside the blocks.
    """
    e = dtype_bytes(dtype)
    c, r, blocks = config.hidden_size, config.mlp_ratio, 2 * config.depth
    t, s = token_grid(config, shape)
    n_local = shape.batch * t * padded_tokens(s, sp_size) // sp_size
    per_block = e * n_local * c * (SAVED_PER_BLOCK_BASE + 2 * r)
    blocks_total = blocks * e * n_local * c + per_block if grad_ckpt else blocks * per_block
    total = blocks_total + e * n_local * c * SAVED_OUTSIDE_BLOCKS
    return dict(per_block=per_block, total=total, local_tokens=n_local)


# ----------------------------------------------------------------------------------- weights (meta device)
def _without_weights(cfg: dict) -> dict:
    cfg = dict(cfg)
    if "from_pretrained" in cfg:
        cfg["from_pretrained"] = None
    return cfg


def build_on_meta(cfg: dict):
    """Build a registered component on the meta device without its weights (``from_pretrained=None``)."""
    from opensora.registry import MODELS, build_module

    with torch.device("meta"):
        return build_module(_without_weights(cfg), MODELS)


def stdit3_config(model_cfg) -> "object":
    """The STDiT3Config of a model config dict (e.g. ``dict(type="STDiT3-XL/2", ...)``) or a built model."""
    if hasattr(model_cfg, "config"):
        return model_cfg.config
    return build_on_meta(model_cfg).config


def _count_safetensors(source) -> Optional[int]:
    path = Path(str(source))
    files = [path] if path.is_file() else sorted(path.glob("*.safetensors")) if path.is_dir() else []
    if not files or any(f.suffix != ".safetensors" for f in files):
        return None
    from safetensors import safe_open

    total = 0
    for f in files:
        with safe_open(str(f), "pt") as handle:
            total += sum(math.prod(handle.get_slice(k).get_shape()) for k in handle.keys())
    return total


def _t5_on_meta(source: str):
    from transformers import T5Config, T5EncoderModel

    if source in T5_CONFIGS:
        config = T5Config(**T5_CONFIGS[source])
    elif Path(source, "config.json").is_file():
        config = T5Config.from_pretrained(source)
    else:
        return None
    with torch.device("meta"):
        return T5EncoderModel(config)


def parameter_count(cfg: dict) -> tuple[Optional[int], str]:
    """(parameters, how they were counted) for a model / VAE / text-encoder config, without its weights."""
    if cfg.get("type") == "t5":
        model = _t5_on_meta(cfg.get("from_pretrained") or "DeepFloyd/t5-v1_1-xxl")
        if model is None:
            return None, f"unknown T5 {cfg.get('from_pretrained')!r} (no config.json here)"
        return sum(p.numel() for p in model.parameters()), "T5 config on the meta device"
    try:
        module = build_on_meta(cfg)
        return sum(p.numel() for p in module.parameters()), "built on the meta device"
    except Exception as err:  # noqa: BLE001 - some components need their files to know their shapes
        counted = _count_safetensors(cfg.get("from_pretrained") or "")
        if counted is not None:
            return counted, "safetensors header"
        return None, f"could not be sized without weights ({type(err).__name__}: {err})"


def resident_weights(components: dict) -> dict:
    """``components``: name -> (config dict, dtype). Returns name -> dict(params, bytes, dtype, how)."""
    out = {}
    for name, (cfg, dtype) in components.items():
        params, how = parameter_count(cfg)
        out[name] = dict(params=params, dtype=str(dtype), how=how,
                         bytes=None if params is None else params * dtype_bytes(dtype))
    return out


# ------------------------------------------------------------------------------- VAE / T5 FLOPs (counted)
def counted_flops(fn) -> int:
    """FLOPs of ``fn()`` as FlopCounterMode counts them (run it on meta tensors to count without compute)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        fn()
    return counter.get_total_flops()


def vae_decode_flops(vae_cfg: dict, latent_shape: tuple, chunk_latents: int) -> Optional[int]:
    """FLOPs to decode one chunk (1, C_z, chunk_latents, h, w), counted on the meta device."""
    try:
        vae = build_on_meta(vae_cfg)
        z = torch.empty(1, latent_shape[0], chunk_latents, *latent_shape[1:], device="meta")
        return counted_flops(lambda: vae.decode_chunk(z))
    except Exception:  # noqa: BLE001 - a VAE that needs real data for its shapes
        return None


def t5_flops(text_cfg: dict) -> Optional[int]:
    """FLOPs to encode one prompt of ``model_max_length`` tokens with a T5 encoder, counted on meta."""
    if text_cfg.get("type") != "t5":
        return None
    model = _t5_on_meta(text_cfg.get("from_pretrained") or "DeepFloyd/t5-v1_1-xxl")
    if model is None:
        return None
    ids = torch.zeros(1, int(text_cfg.get("model_max_length", 300)), dtype=torch.long, device="meta")
    return counted_flops(lambda: model(input_ids=ids))


def vae_decode_activation_bytes(vae_cfg: dict, image_size: tuple, micro_batch_size: Optional[int],
                                frames: int, dtype) -> int:
    """Estimate of the spatial decoder's peak: 3 tensors of the widest full-resolution feature map
    (the second-to-last up block's channels, upsampled to H x W) per frame of a micro-batch."""
    spatial = dict(vae_cfg.get("spatial") or {})
    channels = tuple(spatial.get("block_out_channels", (128, 256, 512, 512)))
    widest = channels[1] if len(channels) > 1 else channels[0]
    batch = min(micro_batch_size or frames, frames)
    return 3 * batch * widest * image_size[0] * image_size[1] * dtype_bytes(dtype)


# ----------------------------------------------------------------------------------------- plan costs
def plan_flops(record: dict, config, *, latent_hw: tuple, videos: int = 1, guidance: bool = True,
               caption_tokens: Optional[int] = None, sp_size: int = 1) -> dict:
    """FLOPs of every model call of a dry-run plan (``plan_export.plan_record``) and their total.

    Each call's window length is ``len(call["timesteps"])``; calls with the same length share one entry.
    """
    L = caption_tokens or config.model_max_length
    batch = videos * (2 if guidance else 1)
    by_len: dict = {}
    for call in record["calls"]:
        frames = len(call["timesteps"])
        by_len.setdefault(frames, dict(frames=frames, calls=0))["calls"] += 1
    keys = ("attention", "rest", "total", "per_rank")
    totals = dict.fromkeys(keys, 0.0)
    for entry in by_len.values():
        f = stdit3_flops(config, CallShape(batch, entry["frames"], *latent_hw, L), sp_size)
        entry.update({k: f[k] for k in keys}, tokens=f["tokens"])
        for k in keys:
            totals[k] += f[k] * entry["calls"]
    return dict(batch=batch, caption_tokens=L, sp_size=sp_size, per_window=sorted(by_len.values(),
                key=lambda e: e["frames"]), total=totals, num_calls=len(record["calls"]))


def dry_run_cost(cfg, record: dict, geometry, *, sp_size: Optional[int] = None) -> dict:
    """The ``cost`` section of ``plan.json`` for a run config (model / vae / text_encoder / dtype keys).

    Reads ``cfg.sp_size`` (default 1), ``cfg.text_encoder_offload`` (default False: T5 stays resident),
    ``cfg.batch_size`` (videos per call) and the dtypes ``cfg.dtype`` (DiT, VAE) and
    ``cfg.text_encoder.dtype``.
    """
    get = cfg.get if hasattr(cfg, "get") else lambda k, d=None: getattr(cfg, k, d)
    sp = int(sp_size or get("sp_size", 1) or 1)
    dtype, videos = get("dtype", "bf16"), int(get("batch_size", 1) or 1)
    text_cfg, vae_cfg = dict(get("text_encoder") or {}), dict(get("vae") or {})
    text_dtype = text_cfg.get("dtype", "fp32")
    config = stdit3_config(dict(get("model")))
    latent_hw = (geometry.latent_height, geometry.latent_width)
    flops = plan_flops(record, config, latent_hw=latent_hw, videos=videos, sp_size=sp)
    largest = max((e["frames"] for e in flops["per_window"]), default=0)
    shape = CallShape(flops["batch"], largest, *latent_hw, flops["caption_tokens"])
    weights = resident_weights({"stdit3": (dict(get("model")), dtype), "vae": (vae_cfg, dtype),
                                "text_encoder": (text_cfg, text_dtype)})
    decode = vae_decode_flops(vae_cfg, geometry.latent_shape, geometry.chunk_latents)
    memory = _memory_per_rank(config, shape, sp, weights, geometry, get, videos)
    return dict(flops=flops, activation=memory.pop("activation"), weights=weights, memory_per_rank=memory,
                vae_decode_flops_per_chunk=decode,
                vae_decode_flops_total=None if decode is None else decode * geometry.num_chunks * videos,
                text_encoder_flops_per_prompt=t5_flops(text_cfg), dtype=dict(model=dtype, text_encoder=text_dtype))


def _memory_per_rank(config, shape: CallShape, sp: int, weights: dict, geometry, get, videos: int) -> dict:
    """Peak bytes per rank while sampling (DiT + VAE resident, T5 unless offloaded) and while encoding."""
    dtype = get("dtype", "bf16")
    offload = bool(get("text_encoder_offload", False))
    act = stdit3_inference_activation_bytes(config, shape, sp, dtype)
    vae_cfg = dict(get("vae") or {})
    decode = vae_decode_activation_bytes(vae_cfg, geometry.image_size, vae_cfg.get("micro_batch_size"),
                                         geometry.chunk_frames * videos, dtype)
    size = {k: (v["bytes"] or 0) for k, v in weights.items()}
    sampling_weights = size["stdit3"] + size["vae"] + (0 if offload else size["text_encoder"])
    sampling = sampling_weights + max(act["peak"], decode)
    encoding = size["text_encoder"] + (0 if offload else size["stdit3"] + size["vae"])
    return dict(activation=act, text_encoder_offload=offload, vae_decode_activation=decode,
                sampling_peak=sampling, encoding_peak=encoding, peak=max(sampling, encoding))


def _scaled(value, unit: str) -> str:
    """``value`` with a decimal prefix that keeps 1 to 3 digits before the point (1.2 GFLOP, 26.7 PFLOP)."""
    if value is None:
        return "?"
    for scale, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.{1 if unit == 'FLOP' else 2}f} {prefix}{unit}"
    return f"{value:.0f} {unit}"


def format_cost(cost: dict) -> str:
    """A few lines for the dry-run printout."""
    fl, mem, w = cost["flops"], cost["memory_per_rank"], cost["weights"]
    gb = lambda b: _scaled(b, "B")  # noqa: E731
    tf = lambda f: _scaled(f, "FLOP")  # noqa: E731
    windows = ", ".join(f"{e['calls']} x {e['frames']} latents: {tf(e['total'])} "
                        f"(attention {tf(e['attention'])})" for e in fl["per_window"])
    lines = [
        f"model FLOPs per call (batch {fl['batch']}, sp_size {fl['sp_size']}): {windows}",
        f"model FLOPs in total: {tf(fl['total']['total'])} (attention {tf(fl['total']['attention'])}, rest "
        f"{tf(fl['total']['rest'])}); per rank {tf(fl['total']['per_rank'])}; VAE decode "
        f"{tf(cost['vae_decode_flops_total'])}",
        f"weights: STDiT3 {gb(w['stdit3']['bytes'])} ({w['stdit3']['dtype']}), VAE {gb(w['vae']['bytes'])}, "
        f"text encoder {gb(w['text_encoder']['bytes'])} ({w['text_encoder']['dtype']})",
        f"memory per rank: DiT activations {gb(cost['activation']['peak'])}, VAE decode "
        f"{gb(mem['vae_decode_activation'])}; peak {gb(mem['peak'])} (sampling {gb(mem['sampling_peak'])}, "
        f"encoding {gb(mem['encoding_peak'])}, text_encoder_offload={mem['text_encoder_offload']})",
    ]
    return "\n".join(lines)

