"""The dry run's cost section for the real 60-s PA settings (XL/2, 240p and 720p), from the plan alone.

The plan is built by the library (``build_plan`` + ``plan_record``), as ``scripts/inference.py --dry-run``
does; no weights are loaded (the networks are sized on the meta device).
"""
import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from opensora.models.text_encoder import OfflineTextEncoder, encode_then_offload
from opensora.registry import MODELS, SCHEDULERS, build_module
from opensora.sampling import plan_export
from opensora.sampling.geometry import image_size_for, video_geometry
from opensora.sampling.schedules import build_plan

CONFIG = Path(__file__).resolve().parents[2] / "configs/pavdm/infer_60s.py"


def plan_and_cost(resolution: str, **options):
    cfg = Config.fromfile(str(CONFIG))
    cfg.resolution = resolution
    cfg.merge_from_dict(options)
    with torch.device("meta"):
        vae = build_module(dict(cfg.vae, from_pretrained=None), MODELS)
    geom = video_geometry(vae, image_size_for(cfg.resolution, cfg.aspect_ratio), cfg.num_frames, cfg.fps,
                          cfg.whole_seconds)
    schedule = build_plan(dict(cfg.schedule), vae=vae, geom=geom, scheduler=build_module(dict(cfg.scheduler),
                          SCHEDULERS), has_reference=False)
    record = plan_export.plan_record(schedule, geom)
    text = plan_export.add_cost(record, cfg, geom)
    return record, text


@pytest.fixture(scope="module")
def p240():
    return plan_and_cost("240p")


def test_240p_cost_section(p240, tmp_path):
    record, text = p240
    cost = record["cost"]
    fl = cost["flops"]
    assert fl["batch"] == 2 and fl["num_calls"] == 450 and fl["caption_tokens"] == 300
    steady = fl["per_window"][-1]
    assert steady["frames"] == 35 and steady["calls"] == 395 and steady["tokens"] == 2 * 35 * 405
    assert steady["total"] / 1e12 == pytest.approx(63.0, abs=0.1)  # 2 x 31.5 TFLOP (CFG batch)
    assert fl["total"]["total"] == pytest.approx(sum(e["total"] * e["calls"] for e in fl["per_window"]))
    assert fl["total"]["attention"] + fl["total"]["rest"] == pytest.approx(fl["total"]["total"])
    w = cost["weights"]
    assert w["stdit3"]["bytes"] == 2 * 1_207_643_972 and w["vae"]["bytes"] == 2 * 393_341_007
    assert w["text_encoder"]["bytes"] == 4 * 4_762_310_656  # fp32 T5 at inference
    assert cost["vae_decode_flops_per_chunk"] / 1e12 == pytest.approx(20.3, abs=0.1)  # compat doc section 9
    assert cost["text_encoder_flops_per_prompt"] / 1e12 == pytest.approx(2.8, abs=0.05)
    mem = cost["memory_per_rank"]
    assert mem["peak"] > w["text_encoder"]["bytes"] and not mem["text_encoder_offload"]
    assert "model FLOPs in total" in text and "memory per rank" in text
    path = plan_export.write_plan_json(record, tmp_path / "plan.json")
    assert json.loads(path.read_text())["cost"]["flops"]["num_calls"] == 450


def test_sp_and_offload_lower_the_memory_per_rank():
    plain = plan_and_cost("720p")[0]["cost"]
    sp = plan_and_cost("720p", sp_size=8, text_encoder_offload=True)[0]["cost"]
    assert plain["flops"]["per_window"][-1]["tokens"] == 2 * 35 * 3600  # 126,000 tokens per CFG half
    assert sp["flops"]["total"]["per_rank"] < plain["flops"]["total"]["total"] / 7.9
    assert sp["activation"]["peak"] < plain["activation"]["peak"] / 4
    assert sp["memory_per_rank"]["sampling_peak"] < plain["memory_per_rank"]["sampling_peak"] - 19e9  # no T5


def test_encode_then_offload_serves_the_same_captions():
    encoder = OfflineTextEncoder(dim=8, model_max_length=6)
    texts = ["a red fox", "a blue bird", "a red fox"]
    expected = encoder.encode(["a blue bird", "a red fox"])
    cached = encode_then_offload(encoder, texts, mode="free", batch_size=1)
    got = cached.encode(["a blue bird", "a red fox"])
    assert torch.equal(got["y"], expected["y"]) and torch.equal(got["mask"], expected["mask"])
    assert (cached.output_dim, cached.model_max_length) == (8, 6) and cached.fallback is None
    with pytest.raises(KeyError, match="not encoded before the text encoder was released"):
        cached.encode(["a green frog"])
    on_cpu = encode_then_offload(OfflineTextEncoder(dim=8, model_max_length=6), texts, mode="cpu")
    assert torch.equal(on_cpu.encode(["a green frog"])["y"], encoder.encode(["a green frog"])["y"])
    with pytest.raises(ValueError, match="use one of"):
        encode_then_offload(encoder, texts, mode="disk")
