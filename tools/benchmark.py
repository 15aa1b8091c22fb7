#!/usr/bin/env python
"""Benchmark one STDiT3 model call (a guided PA window) for any config, device, dtype and attention kernel.

    python tools/benchmark.py configs/pavdm/infer_60s_tiny.py
    python tools/benchmark.py configs/pavdm/infer_60s.py --device cuda --dtype bf16 --attention sdpa flash \\
        --resolution 240p 720p --peak-tflops 989 --out results/bench-h200
    python tools/benchmark.py configs/pavdm/infer_60s.py --model-options depth=2 --window-frames 17

The model is built from the config's ``model`` entry with **random weights** (``from_pretrained`` is ignored);
the call is what the sampler makes: a CFG batch of 2 x ``batch_size`` videos over the config's PA window
(``schedule.window_frames`` pixel frames, i.e. its latents) at the config's image size, per-frame timesteps
and a full ``model_max_length`` caption.

Per case (config x resolution x dtype x attention x compile) it reports
=================  ==========================================================================================
ms/call            median wall time of a call after ``--warmup`` calls (CUDA synchronised); ``best`` the fastest
                   (on a shared machine the least disturbed estimate)
latent-frames/s    window latents x videos / seconds per call (the CFG pair counts once)
TFLOP/s            model FLOPs of the call (``opensora.acceleration.cost_model``) / seconds per call
MFU                TFLOP/s / ``--peak-tflops`` (the device's dense peak for the dtype), when given
peak memory        CUDA: ``max_memory_allocated`` over the timed calls; CPU: weights + the activation peak
                   of one extra, untimed call measured by ``opensora.utils.memory.TensorMemoryTracker``
=================  ==========================================================================================
and writes ``benchmark.md`` (a table) and ``benchmark.json`` (the rows) into ``--out``.

Attention kernels: ``sdpa`` (torch picks: flash / memory-efficient / math), ``math`` (SDPA's reference kernel),
``flash`` (the flash-attn package for self-attention; CUDA and fp16/bf16 only, otherwise the case is skipped
with the reason). Cross-attention always uses SDPA (it needs the caption mask).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from opensora.acceleration.cost_model import CallShape, build_on_meta, stdit3_flops
from opensora.registry import MODELS, build_module
from opensora.sampling.geometry import image_size_for
from opensora.utils.config import load_config
from opensora.utils.memory import TensorMemoryTracker

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
ATTENTION = ("sdpa", "math", "flash")


@dataclass
class Case:
    config: str
    resolution: str
    dtype: str
    attention: str
    compile: bool


@dataclass
class Row:
    config: str
    model: str
    resolution: str
    latents: str
    tokens: int
    dtype: str
    attention: str
    compile: bool
    device: str
    ms_per_call: float | None = None
    ms_best: float | None = None
    latent_frames_per_s: float | None = None
    tflop_per_call: float | None = None
    tflops: float | None = None
    mfu: float | None = None
    peak_memory_gb: float | None = None
    note: str = ""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("configs", nargs="+", help="inference configs (their model, image size and PA window)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", nargs="+", default=["fp32"], choices=sorted(DTYPES))
    p.add_argument("--attention", nargs="+", default=["sdpa"], choices=ATTENTION)
    p.add_argument("--compile", nargs="+", default=["off"], choices=["off", "on"], help="torch.compile the model")
    p.add_argument("--compile-backend", default="inductor", help="torch.compile backend (e.g. aot_eager)")
    p.add_argument("--resolution", nargs="+", default=None,
                   help="Open-Sora resolution names (240p, 720p, ...) instead of the config's image size")
    p.add_argument("--window-frames", type=int, default=None, help="pixel frames of the window (default: config)")
    p.add_argument("--batch-size", type=int, default=None, help="videos per call (default: config batch_size)")
    p.add_argument("--model-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="STDiT3 architecture overrides, e.g. depth=2 hidden_size=384 num_heads=6")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--peak-tflops", type=float, default=None, help="device peak for MFU (e.g. 989 for H100 bf16)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (torch.set_num_threads)")
    p.add_argument("--out", type=Path, default=Path("outputs/benchmark"))
    return p.parse_args(argv)


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def model_options(pairs) -> dict:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"--model-options takes KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key] = _value(value)
    return out


def window(cfg, resolution: str | None, window_frames: int | None, batch_size: int | None):
    """(videos, (H, W) pixels, (T, h, w) latents) of the sampler's guided call for this config."""
    size = image_size_for(resolution, cfg.aspect_ratio) if resolution else (
        cfg.image_size or image_size_for(cfg.resolution, cfg.aspect_ratio))
    frames = window_frames or (cfg.get("schedule") or {}).get("window_frames")
    if frames is None:
        raise SystemExit(f"{cfg.filename} has no schedule.window_frames; pass --window-frames")
    vae = build_on_meta(dict(cfg.vae))  # the VAE owns the latent sizes
    latents = tuple(vae.get_latent_size([int(frames), int(size[0]), int(size[1])]))
    return batch_size or int(cfg.get("batch_size", 1) or 1), tuple(size), latents


def build_model(cfg, options: dict, case: Case, device):
    model_cfg = dict(cfg.model, from_pretrained=None, **options)
    model_cfg["enable_flash_attn"] = case.attention == "flash"
    torch.manual_seed(0)
    model = build_module(model_cfg, MODELS).to(device, DTYPES[case.dtype]).eval()
    return model


def skip_reason(case: Case, device: torch.device) -> str:
    """Why a case cannot run here ("" if it can)."""
    if case.attention == "flash":
        from opensora.models.layers.attention import _flash_attn_func

        if device.type != "cuda" or case.dtype == "fp32" or _flash_attn_func() is None:
            return "flash-attn needs the package, CUDA and fp16/bf16"
    return ""


def inputs(model, shape: CallShape, pixel_size, device, dtype):
    gen = torch.Generator().manual_seed(0)
    c = model.config
    x = torch.randn(shape.batch, c.in_channels, shape.frames, shape.height, shape.width, generator=gen)
    y = torch.randn(shape.batch, 1, shape.caption_tokens, c.caption_channels, generator=gen)
    t = torch.rand(shape.batch, shape.frames, generator=gen) * 1000
    return dict(x=x.to(device, dtype), timestep=t.to(device), y=y.to(device, dtype),
                mask=torch.ones(shape.batch // 2 or 1, shape.caption_tokens, dtype=torch.long, device=device),
                fps=24, height=pixel_size[0], width=pixel_size[1])


def attention_context(name: str):
    if name == "math":
        from torch.nn.attention import SDPBackend, sdpa_kernel

        return sdpa_kernel(SDPBackend.MATH)
    return contextlib.nullcontext()


def synchronize(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn, device, warmup: int, iters: int) -> list:
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def peak_memory(model, fn, device) -> float:
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    weights += sum(b.numel() * b.element_size() for b in model.buffers())
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    with TensorMemoryTracker() as mem:
        fn()
    return weights + mem.peak


def run_case(case: Case, args, device) -> Row:
    cfg = load_config(case.config)
    options = model_options(args.model_options)
    videos, pixel_size, (t, h, w) = window(cfg, None if case.resolution == "config" else case.resolution,
                                           args.window_frames, args.batch_size)
    model = build_model(cfg, options, case, device)
    shape = CallShape(2 * videos, t, h, w, model.config.model_max_length)
    flops = stdit3_flops(model.config, shape)
    name = cfg.model["type"] + (f" ({', '.join(args.model_options)})" if args.model_options else "")
    row = Row(Path(case.config).name, name, f"{pixel_size[0]}x{pixel_size[1]}", f"{t}x{h}x{w}", flops["tokens"],
              case.dtype, case.attention, case.compile, str(device), tflop_per_call=flops["total"] / 1e12)
    reason = skip_reason(case, device)
    if reason:
        row.note = f"skipped: {reason}"
        return row
    kwargs = inputs(model, shape, pixel_size, device, DTYPES[case.dtype])
    net = torch.compile(model, backend=args.compile_backend) if case.compile else model
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def call():
        with torch.inference_mode(), attention_context(case.attention):
            return net(**kwargs)

    times = time_calls(call, device, args.warmup, args.iters)
    seconds = statistics.median(times)
    row.ms_per_call, row.ms_best = 1000 * seconds, 1000 * min(times)
    row.latent_frames_per_s = videos * t / seconds
    row.tflops = flops["total"] / seconds / 1e12
    row.mfu = row.tflops / args.peak_tflops if args.peak_tflops else None
    row.peak_memory_gb = peak_memory(model, call, device) / 1e9
    return row


def fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def markdown(rows: list, args) -> str:
    head = ("| config | model | video | latents (TxHxW) | tokens | dtype | attention | compile | ms/call | best | "
            "latent-frames/s | TFLOP/call | TFLOP/s | MFU | peak mem (GB) | note |")
    lines = [head, "|" + "---|" * 16]
    for r in rows:
        lines.append(f"| {r.config} | {r.model} | {r.resolution} | {r.latents} | {r.tokens} | {r.dtype} | "
                     f"{r.attention} | {'on' if r.compile else 'off'} | {fmt(r.ms_per_call, '.1f')} | "
                     f"{fmt(r.ms_best, '.1f')} | {fmt(r.latent_frames_per_s, '.2f')} | "
                     f"{fmt(r.tflop_per_call, '.3g')} | {fmt(r.tflops, '.3g')} | {fmt(r.mfu, '.1%')} | "
                     f"{fmt(r.peak_memory_gb, '.3f')} | {r.note} |")
    device = rows[0].device if rows else args.device
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
    return (f"Device: {name}; torch {torch.__version__}; random weights; one guided call (CFG batch 2 x videos); "
            f"median of {args.iters} after {args.warmup} warm-up.\n\n" + "\n".join(lines) + "\n")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = []
    for config in args.configs:
        for resolution in args.resolution or ["config"]:
            for dtype in args.dtype:
                for attention in args.attention:
                    for compiled in args.compile:
                        case = Case(config, resolution, dtype, attention, compiled == "on")
                        rows.append(run_case(case, args, device))
                        print(json.dumps(asdict(rows[-1])), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
    table = markdown(rows, args)
    (args.out / "benchmark.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
