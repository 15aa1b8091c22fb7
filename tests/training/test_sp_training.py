"""Training under sequence parallelism (``--cfg-options sp_size=2``, 2 gloo processes) against one process.

The tiny CPU config (STDiT3 depth 1, hidden 32, 2 heads, 6 tokens per frame: 3 per rank) on 4 tiny mp4s.
With one data-parallel group the 2 ranks load the batches a single process loads and draw its levels and
noise (``group_seed``), so the losses must agree to float32 round-off. A checkpoint of the 2-process run then
resumes in one process with ``sp_size=1`` (weights and optimizer states do not depend on the layout).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from media import make_dataset
from opensora.training import cli
from opensora.utils.cli import run_cli
from opensora.utils.logging import setup_logging

REPO = Path(__file__).resolve().parents[2]
CONFIG = "configs/pavdm/train_tiny_cpu.py"
F32 = 1e-5  # float32 round-off budget, relative


def metrics(outputs: Path) -> list:
    (exp,) = list(outputs.iterdir())
    return [json.loads(r) for r in (exp / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sp_train")
    csv = make_dataset(tmp / "data", num_good=4, num_frames=60, short=0, corrupt=0, with_counts=True)
    common = ["--data-path", str(csv), "--max-steps", "3", "--cfg-options", "ckpt_every=2", "keep_last=0"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "scripts/train.py", CONFIG,
           "--outputs", str(tmp / "sp2"), *common, "sp_size=2"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore", PYTHONPATH=str(REPO))
    sp2 = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert sp2.returncode == 0, sp2.stderr[-4000:]
    setup_logging(0, None)
    assert run_cli(cli.main, [str(REPO / CONFIG), "--outputs", str(tmp / "sp1"), *common]) == 0
    return dict(tmp=tmp, csv=csv, sp2=sp2)


@pytest.mark.slow
def test_sp2_losses_equal_the_single_process(runs):
    sp2, sp1 = metrics(runs["tmp"] / "sp2"), metrics(runs["tmp"] / "sp1")
    assert [r["step"] for r in sp2] == [r["step"] for r in sp1] == [1, 2, 3]
    worst = max(abs(a["loss"] - b["loss"]) / abs(b["loss"]) for a, b in zip(sp2, sp1))
    print(f"max relative loss difference sp_size=2 vs 1 process over 3 steps: {worst:.2e}")
    assert worst <= F32, (sp2, sp1)
    assert "2 process(es): 1 data-parallel group(s) of sp_size 2" in runs["sp2"].stderr
    # throughput counts distinct samples: one group of batch 2 per step, not 2 ranks x 2
    assert all(r["samples_per_s"] == pytest.approx(2 * r["steps_per_s"]) for r in sp2)


@pytest.mark.slow
def test_checkpoint_of_sp2_resumes_in_one_process_at_sp1(runs, tmp_path, capsys):
    (exp,) = list((runs["tmp"] / "sp2").iterdir())
    ckpt = exp / "epoch0-global_step2"  # 4 clips, batch 2: epoch 0 has 2 steps
    state = json.loads((ckpt / "running_states.json").read_text())
    assert state == dict(epoch=0, batch=2, global_step=2, sp_size=2, world_size=2)
    setup_logging(0, None)
    code = run_cli(cli.main, [str(REPO / CONFIG), "--data-path", str(runs["csv"]), "--outputs", str(tmp_path),
                              "--max-steps", "3", "--load", str(ckpt), "--cfg-options", "sp_size=1",
                              "ckpt_every=0"])
    err = capsys.readouterr().err
    assert code == 0, err[-3000:]
    assert "written by 2 processes with sp_size 2, now 1 with sp_size 1" in err
    assert f"resumed from {ckpt} at epoch 0, batch 2, global step 2" in err
    rows = metrics(tmp_path)
    assert [r["step"] for r in rows] == [3] and 0 < rows[0]["loss"] < 10
