"""Run the inference command line in-process (``opensora.sampling.cli.main(argv)``) for tests."""
from pathlib import Path

from opensora.sampling import cli

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "configs/pavdm/infer_tiny_cpu.py")
FULL = str(ROOT / "configs/pavdm/infer_60s.py")


def run_inference(*argv):
    return cli.main([str(a) for a in argv])
