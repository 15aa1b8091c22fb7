"""tools/latent_energy.py: a video set measured against itself has ratio 1 in every slot, a still copy of it loses
the time-varying slots' energy, and bad input is refused with the reason."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from opensora.utils.video_io import read_frames
from tools.synthetic.mp4 import write_mp4
from tools.synthetic.generate import generate

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "configs/pavdm/train_tiny.py")  # the chunk-basis VAE: its 5 slots are the time modes


def _tool():
    spec = importlib.util.spec_from_file_location("latent_energy_tool", ROOT / "tools" / "latent_energy.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_ratios_of_the_same_videos_and_of_a_frozen_copy(tmp_path, capsys):
    csv = generate(tmp_path / "data", "train", num_videos=2, seconds=2, progress=False)  # 96 x 64, 48 frames
    videos = sorted((tmp_path / "data").glob("train_*.mp4"))
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    for v in videos:  # every chunk one still picture: nothing moves inside a chunk
        frames = read_frames(v, 0, 34)
        still = np.concatenate([np.repeat(frames[k * 17: k * 17 + 1], 17, axis=0) for k in range(2)])
        write_mp4(frozen / v.name, still, fps=24)
    out = tmp_path / "energy.json"
    record = _tool().main([CONFIG, "--reference", str(csv), "--videos", str(tmp_path / "data"),
                           "--videos", str(frozen), "--out", str(out)])
    same = record["videos"][str(tmp_path / "data")]["ratio"]
    assert same == pytest.approx([1.0] * 5, abs=1e-6)
    still_ratio = record["videos"][str(frozen)]["ratio"]
    moving = np.array(record["time_varying_fraction"])
    assert moving.shape == (5,) and moving[1:].min() > 0.5  # the shipped basis: slots 1-4 mostly motion
    assert max(still_ratio[1:]) < 0.8 * min(same[1:])  # a still chunk has little energy in them
    assert json.loads(out.read_text())["reference_rms"] == record["reference_rms"]
    printed = capsys.readouterr().out
    assert "time-varying" in printed and f"{tmp_path.name}/frozen: RMS, ratio" in printed


def test_bad_input_is_refused(tmp_path):
    csv = generate(tmp_path / "data", "train", num_videos=1, seconds=1, progress=False)
    tool = _tool()
    with pytest.raises(ValueError, match=r"skip_chunks must be in 0..0 for 1 chunks, got 1"):
        tool.main([CONFIG, "--reference", str(csv), "--videos", str(tmp_path / "data"), "--skip-chunks", "1"])
    with pytest.raises(FileNotFoundError, match="matches no video"):
        tool.main([CONFIG, "--reference", str(csv), "--videos", str(tmp_path / "nothing")])
    short = tmp_path / "short.mp4"
    write_mp4(short, read_frames(sorted((tmp_path / "data").glob("*.mp4"))[0], 0, 10), fps=24)
    with pytest.raises(ValueError, match=r"at least one whole chunk of 17 frames; shorter: .*short.mp4 \(10 frames\)"):
        tool.main([CONFIG, "--reference", str(csv), "--videos", str(short)])
    with pytest.raises(ValueError, match="--max-videos and --max-chunks must be >= 1, got 0 and 8"):
        tool.main([CONFIG, "--reference", str(csv), "--videos", str(short), "--max-videos", "0"])
