"""The commands print only what concerns the run: no third-party noise (the bitsandbytes "Failed to load CPU
gemm_4bit_forward" line pulled in by diffusers, torch.distributed FutureWarnings from ColossalAI), --help
included. One fresh interpreter runs the help of every command, a dry run and a one-step ColossalAI training."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "datasets"))
from media import make_dataset  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
NOISE = ("gemm_4bit", "kernels-community", "FutureWarning", "DeprecationWarning", "Traceback")

SCRIPT = """
import runpy, sys
for argv in {runs!r}:
    sys.argv = argv
    try:
        runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exc:
        print("exit", argv[0], exc.code, file=sys.stderr)
"""


@pytest.mark.slow
def test_no_third_party_noise(tmp_path):
    csv = make_dataset(tmp_path / "data", num_good=4, num_frames=60, short=0, corrupt=0, with_counts=True)
    # fit_pca_vae first: it imports the VAE (and so diffusers -> bitsandbytes) before its CLI wrapper runs
    runs = [["tools/fit_pca_vae.py", "--help"], ["scripts/inference.py", "--help"], ["scripts/train.py", "--help"],
            ["tools/extract_features.py", "--help"],
            ["scripts/inference.py", "configs/pavdm/infer_tiny_cpu.py", "--dry-run", "--plan-out",
             str(tmp_path / "plan.json")],
            ["scripts/train.py", "configs/pavdm/train_tiny_cpu.py", "--data-path", str(csv), "--outputs",
             str(tmp_path / "out"), "--max-steps", "1"]]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-c", SCRIPT.format(runs=runs)], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=600)
    out = res.stdout + res.stderr
    assert [line for line in res.stderr.splitlines() if line.startswith("exit ")] == [
        "exit tools/fit_pca_vae.py 0", "exit scripts/inference.py 0", "exit scripts/train.py 0",
        "exit tools/extract_features.py 0",
        "exit scripts/inference.py 0", "exit scripts/train.py 0"], out[-3000:]
    assert not [n for n in NOISE if n in out], out[-3000:]
