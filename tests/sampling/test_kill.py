"""Real signals to a real inference process: after ``kill -9`` the mp4 on disk plays every chunk written
before the kill; SIGTERM (what ``timeout`` and schedulers send) stops with one line and exit code 143."""
import os
import signal
import subprocess
import sys
import time

import pytest

from opensora.utils.video_io import read_video

from .helpers import ROOT, TINY


def _start(save_dir):
    cmd = [sys.executable, "scripts/inference.py", TINY, "--prompt", "a fox", "--num-frames", "20s",
           "--num-sampling-steps", "6", "--save-dir", str(save_dir), "--cfg-options", "progress=False"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_chunk(proc, save_dir, index: int, timeout: float = 300) -> None:
    """Until chunk ``index`` is saved (then chunks < index are in the mp4: a chunk is saved, then written)."""
    marker = save_dir / ".resume/sample_0000" / f"chunk_{index:05d}.pt"
    deadline = time.time() + timeout
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "no chunk written in time"
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_run_leaves_a_playable_video(tmp_path, sig):
    proc = _start(tmp_path)
    _wait_for_chunk(proc, tmp_path, 3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    frames = read_video(tmp_path / "sample_0000.mp4").shape[0]
    assert frames >= 3 * 17 and frames % 17 == 0  # every chunk written before the signal, whole
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert proc.returncode == 143 and errors == [
            "error: stopped by SIGTERM; every finished chunk is in the mp4s; rerun the same command with --resume "
            "to continue"], err
        assert "Traceback" not in err
