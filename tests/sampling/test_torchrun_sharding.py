"""Under torchrun (2 CPU processes, gloo) the prompts are sharded: every prompt is written once."""
import json
import shutil
import subprocess
import sys

import pytest

from .helpers import ROOT, TINY


@pytest.mark.slow
def test_two_ranks_write_each_prompt_once(tmp_path):
    torchrun = shutil.which("torchrun", path=str(ROOT / ".venv/bin")) or shutil.which("torchrun")
    cmd = [torchrun or sys.executable, *([] if torchrun else ["-m", "torch.distributed.run"]),
           "--standalone", "--nproc_per_node=2", str(ROOT / "scripts/inference.py"), TINY,
           "--prompt", "a fox", "a cat", "a dog", "--num-frames", "17", "--num-sampling-steps", "6",
           "--save-dir", str(tmp_path), "--cfg-options", "progress=False"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    videos = sorted(p.name for p in tmp_path.glob("*.mp4"))
    assert videos == ["sample_0000.mp4", "sample_0001.mp4", "sample_0002.mp4"]
    ranks = {p.stem: json.loads(p.read_text())["rank"] for p in tmp_path.glob("sample_*.json")}
    assert ranks == {"sample_0000": 0, "sample_0001": 1, "sample_0002": 0}
    seeds = [json.loads((tmp_path / f"sample_000{i}.json").read_text())["seed"] for i in range(3)]
    assert seeds == [42, 43, 44]
