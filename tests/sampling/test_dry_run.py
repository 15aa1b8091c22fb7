"""--dry-run: plan.json and the heatmap without touching any weights; plan errors with the rule."""
import json
from types import SimpleNamespace

import pytest

from opensora.sampling.geometry import video_geometry
from opensora.sampling.schedules import build_plan
from opensora.schedulers.rectified_flow import RFlow, timestep_ratio, transformed_levels

from .helpers import FULL, run_inference
from .test_video_io import make_clip

NO_WEIGHTS = ["--ckpt-path", "/nonexistent/model.safetensors", "--cfg-options",
              "vae.from_pretrained=/nonexistent/vae", "text_encoder.from_pretrained=/nonexistent/t5"]


def _dry(tmp_path, *extra):
    out = tmp_path / "plan.json"
    record = run_inference(FULL, "--dry-run", "--plan-out", out, *NO_WEIGHTS, *extra)
    return record, json.loads(out.read_text()), out


def test_60s_text_only_plan(tmp_path, capsys):
    record, saved, out = _dry(tmp_path)
    assert saved["num_latents"] == 425 and saved["num_frames"] == 1440 and saved["frames_generated"] == 1445
    assert len(saved["calls"]) == 450 and "model calls: 450" in capsys.readouterr().out
    assert out.with_suffix(".png").stat().st_size > 1000
    first, last = saved["calls"][0], saved["calls"][-1]
    assert first["timesteps"] == [1000.0] * 5 and first["emitted"] == [] and first["window"] == [0, 5]
    assert last["emitted"] == list(range(420, 425)) and last["window"] == [415, 425]
    emitted = [i for call in saved["calls"] for i in call["emitted"]]
    assert emitted == list(range(425))  # every latent finalised once, in order
    # a steady window: 5 clean context latents, then the stage-0 levels of section 2 (r = 3.6875 in bf16)
    steady = saved["calls"][30]["timesteps"]
    sigma = transformed_levels(30, 3.6875)
    assert steady[:5] == [0.0] * 5
    assert steady[5::5] == pytest.approx([float(sigma[k]) for k in (5, 10, 15, 20, 25, 30)], abs=1e-4)
    assert float(timestep_ratio(240, 426, 119, bf16=True)) == 3.6875


def test_60s_plan_with_reference(tmp_path):
    clip = make_clip(tmp_path / "ref.mp4", 17)
    _, saved, _ = _dry(tmp_path, "--prompt", f"a fox||{clip}")
    assert len(saved["calls"]) == 445 and saved["reference_latents"] == [0, 1, 2, 3, 4]
    assert [len(c["timesteps"]) for c in saved["calls"][:26:5]] == [10, 15, 20, 25, 30, 35]


@pytest.mark.parametrize("config,calls", [("infer_60s_rn.py", 1260), ("infer_60s_rw.py", 1260),
                                          ("infer_60s_ad.py", 534)])
def test_baseline_configs_plan(tmp_path, config, calls):
    out = tmp_path / "plan.json"
    record = run_inference(FULL.replace("infer_60s.py", config), "--dry-run", "--plan-out", out, *NO_WEIGHTS)
    assert record["num_calls"] == calls and record["num_latents"] == 425


def test_short_reference_is_rejected_in_dry_run(tmp_path):
    clip = make_clip(tmp_path / "short.mp4", 16)
    with pytest.raises(ValueError, match="has 16 frames, but at least 17"):
        _dry(tmp_path, "--prompt", f"a fox||{clip}")


def test_unsupported_window_steps_names_the_rule(tmp_path):
    with pytest.raises(ValueError, match="num_steps=25 must be a positive multiple of num_noisy_chunks=6"):
        _dry(tmp_path, "--num-sampling-steps", "25")
    with pytest.raises(ValueError, match="use a multiple of 17 frames"):
        _dry(tmp_path, "--cfg-options", "schedule.window_frames=120")


def test_unknown_config_key_is_an_error(tmp_path):
    with pytest.raises(KeyError, match="Did you mean scheduler.num_sampling_steps"):
        _dry(tmp_path, "--cfg-options", "scheduler.num_sampling_step=10")
    with pytest.raises(KeyError, match="schedule has no 'windw_frames'"):
        _dry(tmp_path, "--cfg-options", "schedule.windw_frames=119")


def test_build_plan_rejects_unknown_options():
    vae = SimpleNamespace(latent_frames=lambda f: f // 17 * 5)
    geom = video_geometry(SimpleNamespace(latents_per_chunk=5, micro_frame_size=17, out_channels=4,
                                          latent_frames=vae.latent_frames,
                                          get_latent_size=lambda s: [None, s[1] // 8, s[2] // 8]),
                          (240, 426), 1445, 24)
    rflow = RFlow(num_sampling_steps=30)
    with pytest.raises(ValueError, match=r"has no option\(s\) \['clip_frames'\]"):
        build_plan(dict(type="pa", clip_frames=51), vae=vae, geom=geom, scheduler=rflow, has_reference=False)
    with pytest.raises(ValueError, match="schedule.type='xx'"):
        build_plan(dict(type="xx"), vae=vae, geom=geom, scheduler=rflow, has_reference=False)
    plan = build_plan(dict(type="pa", fixed_start=True), vae=vae, geom=geom, scheduler=rflow,
                      has_reference=True)
    assert plan.num_iterations == 420 and plan.num_ref_chunks == 6


def test_seconds_and_steps_flags(tmp_path):
    record, _, _ = _dry(tmp_path, "--num-frames", "15s", "--num-sampling-steps", "12")
    assert record["num_frames"] == 360 and record["num_latents"] == 110  # 22 chunks
    assert record["num_calls"] == 12 + 2 * 21
