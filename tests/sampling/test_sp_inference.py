"""Sequence-parallel inference from the command line, and the dry run's cost section.

``torchrun --nproc_per_node=2 scripts/inference.py configs/pavdm/infer_60s_tiny.py --cfg-options sp_size=2``
(gloo, CPU, the shipped tiny model: 4 heads, 32 tokens per frame, 16 per rank) against the same command in
one process: 2 videos of 2 chunks (34 frames, 24 kept), 3 steps per latent, with ``text_encoder_offload``.
A second 2-process launch with ``--resume`` checks that the ranks of a group take the writer's decision:
the finished video is skipped and the other one, whose prompt changed, is refused (on both ranks: no hang).
"""
import json
import os
import subprocess
import sys

import pytest
import torch

from opensora.acceleration.cost_model import padded_tokens
from opensora.registry import MODELS, build_module

from .helpers import ROOT, run_inference

CONFIG = str(ROOT / "configs/pavdm/infer_60s_tiny.py")
PROMPTS = ["a red fox runs through the snow", "a blue bird flies over green hills"]
FAST = ["--num-frames", "34", "--num-sampling-steps", "3"]
F32 = 1e-5  # float32 round-off budget, relative to the largest latent


def torchrun(*argv, timeout=600):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", str(ROOT / "scripts/inference.py"),
           CONFIG, *map(str, argv)]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore", PYTHONPATH=str(ROOT))
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sp_infer")
    options = ["--cfg-options", "save_latents=True", "progress=False"]
    sp = torchrun("--prompt", *PROMPTS, *FAST, "--save-dir", tmp / "sp2", *options, "sp_size=2",
                  "text_encoder_offload=True")
    assert sp.returncode == 0, sp.stderr[-4000:]
    run_inference(CONFIG, "--prompt", *PROMPTS, *FAST, "--save-dir", tmp / "one", *options)
    return dict(tmp=tmp, sp=sp)


@pytest.mark.slow
def test_sp2_latents_and_mp4s_equal_the_single_process(runs):
    tmp = runs["tmp"]
    assert "2 process(es): 1 data-parallel group(s) of sp_size 2" in runs["sp"].stderr
    assert "encoded 2 prompt(s); text encoder freed" in runs["sp"].stderr
    assert sorted(p.name for p in (tmp / "sp2").glob("sample_*")) == sorted(p.name for p in (tmp / "one").glob(
        "sample_*")) == [f"sample_000{i}{ext}" for i in range(2) for ext in (".json", ".latents.pt", ".mp4")]
    worst = 0.0
    for name in ("sample_0000", "sample_0001"):
        a = torch.load(tmp / "sp2" / f"{name}.latents.pt", weights_only=True)
        b = torch.load(tmp / "one" / f"{name}.latents.pt", weights_only=True)
        assert a.shape == b.shape == (1, 32, 10, 8, 16)
        rel = float((a - b).abs().max() / b.abs().max())
        worst = max(worst, rel)
        assert rel <= F32, (name, rel)
        if torch.equal(a, b):  # decoding and x264 are deterministic: equal latents give equal bytes
            assert (tmp / "sp2" / f"{name}.mp4").read_bytes() == (tmp / "one" / f"{name}.mp4").read_bytes()
        side = json.loads((tmp / "sp2" / f"{name}.json").read_text())
        assert side["rank"] == 0 and side["sp_size"] == 2  # written by the group writer
    print(f"max relative latent difference sp_size=2 vs 1 process: {worst:.2e}")


@pytest.mark.slow
def test_resume_decision_is_the_writers_on_every_rank(runs):
    out = runs["tmp"] / "sp2"
    before = {p.name: p.read_bytes() for p in out.glob("sample_*")}
    res = torchrun("--prompt", PROMPTS[0], "a cat sleeps", *FAST, "--save-dir", out, "--resume",
                   "--cfg-options", "progress=False", "sp_size=2", timeout=300)
    assert res.returncode != 0, res.stderr[-3000:]  # torchrun: 1 once a rank exited with 2 (it stops the other)
    assert "skipping sample_0000: already finished" in res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("error: ") and "sample_0001.mp4 is a "
              "finished video of a different run" in line]
    assert errors, res.stderr[-3000:]  # the writer's error, raised on the other rank too instead of a hang
    assert {p.name: p.read_bytes() for p in out.glob("sample_*")} == before


def dry_cost(tmp_path, sp_size):
    out = tmp_path / f"plan_sp{sp_size}.json"
    run_inference(CONFIG, "--dry-run", "--plan-out", out, "--cfg-options", f"sp_size={sp_size}")
    return json.loads(out.read_text())


def test_dry_run_cost_section_for_sp_sizes(tmp_path, capsys):
    one, two = dry_cost(tmp_path, 1), dry_cost(tmp_path, 2)
    printed = capsys.readouterr().out
    assert "model FLOPs per call (batch 2, sp_size 2)" in printed and "memory per rank" in printed
    assert set(two["cost"]) >= {"flops", "activation", "weights", "memory_per_rank"}
    c1, c2 = one["cost"], two["cost"]
    # one entry per window length; their calls add up to the plan's (696 for 60 s)
    assert sum(e["calls"] for e in c2["flops"]["per_window"]) == two["num_calls"] == 696
    assert c1["flops"]["total"]["total"] == c2["flops"]["total"]["total"]
    assert c2["flops"]["total"]["attention"] + c2["flops"]["total"]["rest"] == pytest.approx(
        c2["flops"]["total"]["total"])
    assert 0.5 < c2["flops"]["total"]["per_rank"] / c1["flops"]["total"]["per_rank"] < 0.55
    # activations: the widest window (20 latents) of the CFG batch, 8 x 16 latents -> 4 x 8 = 32 tokens per frame
    model = build_module(dict(type="STDiT3", in_channels=32, depth=4, hidden_size=256, num_heads=4,
                              mlp_ratio=1.5, caption_channels=64, model_max_length=24), MODELS)
    tokens = 2 * 20 * 32
    assert c1["activation"]["local_tokens"] == tokens
    assert c2["activation"]["local_tokens"] == 2 * 20 * padded_tokens(32, 2) // 2 == tokens // 2
    ratio = c2["activation"]["block"] / c1["activation"]["block"]
    assert ratio == pytest.approx(14 / 13 / 2)  # half the tokens; the SP attention keeps one more buffer
    params = sum(p.numel() for p in model.parameters())
    assert c2["weights"]["stdit3"]["params"] == params and c2["weights"]["stdit3"]["bytes"] == 4 * params  # fp32
    mem1, mem2 = c1["memory_per_rank"], c2["memory_per_rank"]
    assert mem2["sampling_peak"] <= mem1["sampling_peak"] and mem2["peak"] > c2["weights"]["stdit3"]["bytes"]
