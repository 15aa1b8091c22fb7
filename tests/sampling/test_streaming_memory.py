"""Streaming: peak memory does not grow when the video gets 4x longer (tiny networks, CPU subprocesses).

At 64x96 pixels a decoded chunk is 1.25 MB in fp32, so keeping the frames of a 60-s video (85 chunks) would add
about 105 MB over a 15-s one (22 chunks); the limit below is well under that and well over measurement noise.
"""
import re
import subprocess
import sys

import pytest

from .helpers import ROOT

PROGRAM = """
import resource, sys
sys.path.insert(0, {helpers!r})
from helpers import TINY, run_inference
run_inference(TINY, "--prompt", "a fox", "--num-frames", {length!r}, "--num-sampling-steps", "6",
              "--save-dir", {save_dir!r}, "--cfg-options", "progress=False", "image_size=(64,96)")
print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
GROWTH_LIMIT_MB = 40


def peak_rss_mb(length: str, save_dir) -> float:
    code = PROGRAM.format(helpers=str(ROOT / "tests/sampling"), length=length, save_dir=str(save_dir))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return int(re.search(r"PEAK_KB (\d+)", out.stdout).group(1)) / 1024


@pytest.mark.slow
def test_peak_memory_flat_when_length_quadruples(tmp_path):
    short = peak_rss_mb("15s", tmp_path / "short")
    long = peak_rss_mb("60s", tmp_path / "long")
    print(f"peak RSS: 15 s {short:.1f} MB, 60 s {long:.1f} MB")
    assert long - short < GROWTH_LIMIT_MB, f"peak RSS grew from {short:.1f} MB to {long:.1f} MB"
