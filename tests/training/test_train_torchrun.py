"""End-to-end CPU training under ``torchrun --nproc_per_node=2`` (gloo) on a tiny model and tiny mp4s.

Three launches (about 10 s each, mostly imports): an uninterrupted ColossalAI ZeRO-2 run, a resume of it
from a mid-run checkpoint, and a torch-native run that blows up on purpose (NaN/inf guard).
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from media import make_dataset

REPO = Path(__file__).resolve().parents[2]
CONFIG = "configs/pavdm/train_tiny_cpu.py"


def torchrun(*args, timeout=180):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "scripts/train.py", CONFIG, *args]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def losses(exp_dir: Path) -> dict:
    return {r["step"]: r["loss"] for r in map(json.loads, (exp_dir / "metrics.jsonl").read_text().splitlines())}


def only_exp(outputs: Path) -> Path:
    (exp,) = list(outputs.iterdir())
    return exp


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    csv = make_dataset(tmp / "data", num_good=6, num_frames=60, short=1, corrupt=1)
    common = ["--data-path", str(csv), "--cfg-options", "keep_last=3"]
    full = torchrun(*common[:2], "--outputs", str(tmp / "full"), "--max-steps", "5", *common[2:])
    assert full.returncode == 0, full.stderr[-4000:]
    exp = only_exp(tmp / "full")
    resumed = torchrun(*common[:2], "--outputs", str(tmp / "resumed"), "--max-steps", "5",
                       "--load", str(exp / "epoch0-global_step2"), *common[2:])
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    return dict(tmp=tmp, csv=csv, full=full, exp=exp, resumed=only_exp(tmp / "resumed"))


def test_two_process_run_checkpoints_and_skips_bad_files(runs):
    exp = runs["exp"]
    assert sorted(p.name for p in exp.iterdir() if p.name.startswith("epoch")) == [
        "epoch0-global_step2", "epoch1-global_step4", "epoch2-global_step5"]  # every 2 steps + end, keep 3
    ckpt = exp / "epoch2-global_step5"
    assert json.loads((ckpt / "running_states.json").read_text()) == dict(epoch=2, batch=1, global_step=5,
                                                                         sp_size=1, world_size=2)
    assert {p.name for p in (ckpt / "rank").iterdir()} == {"rank0.pt", "rank1.pt"}
    rows = [json.loads(r) for r in (exp / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5] and rows[-1]["skipped_files"] == 2
    assert all(math_ok(r["loss"]) and r["steps_per_s"] > 0 and r["samples_per_s"] > 0 for r in rows)
    assert rows[0]["lr"] == pytest.approx(5e-4) and rows[1]["lr"] == pytest.approx(1e-3)  # warm-up
    assert "corrupt0.mp4" in runs["full"].stderr and "short0.mp4" in runs["full"].stderr


def math_ok(x):
    return x == x and abs(x) < 1e6


def test_resume_reproduces_the_uninterrupted_losses(runs):
    full, resumed = losses(runs["exp"]), losses(runs["resumed"])
    assert sorted(resumed) == [3, 4, 5]
    for step in (3, 4, 5):
        assert resumed[step] == pytest.approx(full[step], rel=1e-6, abs=1e-7), (step, full, resumed)
    from safetensors.torch import load_file

    a = load_file(str(runs["exp"] / "epoch2-global_step5" / "ema" / "model.safetensors"))
    b = load_file(str(runs["resumed"] / "epoch2-global_step5" / "ema" / "model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_ema_export_loads_in_stdit3(runs):
    from opensora.models.stdit import STDiT3
    from opensora.registry import MODELS, build_module
    from safetensors.torch import load_file

    ema_dir = runs["exp"] / "epoch2-global_step5" / "ema"
    weights = load_file(str(ema_dir / "model.safetensors"))
    model = STDiT3.from_pretrained(ema_dir)  # snapshot folder: config.json + model.safetensors
    assert (model.config.depth, model.config.hidden_size) == (1, 32)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in weights.items())
    tiny = dict(depth=1, hidden_size=32, num_heads=2, caption_channels=16, model_max_length=8)
    built = build_module(dict(type="STDiT3", from_pretrained=str(ema_dir / "model.safetensors"), **tiny), MODELS)
    assert torch.equal(built.state_dict()["final_layer.linear.weight"], weights["final_layer.linear.weight"])

    spec = importlib.util.spec_from_file_location("export_ema", REPO / "tools/export_ema.py")
    export = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(export)
    assert export.main([str(runs["exp"]), "--output", str(runs["tmp"] / "export"), "--dtype", "bf16"]) == 0
    half = STDiT3.from_pretrained(runs["tmp"] / "export")  # the newest checkpoint's EMA, bf16 on disk
    assert torch.allclose(half.state_dict()["final_layer.linear.weight"], weights["final_layer.linear.weight"],
                          atol=1e-2)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(runs):
    out = runs["tmp"] / "nan"
    res = torchrun("--data-path", str(runs["csv"]), "--outputs", str(out), "--max-steps", "8", "--lr", "1e30",
                   "--ckpt-every", "1", "--cfg-options", "backend=torch", "plugin=zero", "warmup_steps=0",
                   "keep_last=2")
    assert res.returncode != 0
    assert "stopping before the optimizer step" in res.stderr and "last good checkpoint is" in res.stderr
    exp = only_exp(out)
    ckpts = sorted(p.name for p in exp.iterdir() if p.name.startswith("epoch"))
    assert ckpts and not any(name.endswith(".tmp") for name in ckpts)
    good = json.loads((exp / ckpts[-1] / "running_states.json").read_text())["global_step"]
    bad_losses = losses(exp)
    assert all(bad_losses[s] == bad_losses[s] for s in range(1, good + 1))  # logged steps were finite
