"""tools/chunk_pan.py on ground-truth synthetic videos: every chunk's pan is the caption's speed (the world shifts
by exactly dx per frame), and bad input is refused with the reason."""
import csv
from pathlib import Path

import pytest

from tools import chunk_pan
from tools.synthetic.generate import generate


def test_ground_truth_pans_at_the_captions_speed(tmp_path):
    table = generate(tmp_path / "data", "train", num_videos=3, seconds=1.5, width=64, height=32, progress=False)
    rows = sorted(csv.DictReader(open(table)), key=lambda r: Path(r["path"]).name)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("".join(f"{r['text']}||clip.mp4\n" for r in rows))
    record = chunk_pan.main([str(tmp_path / "data"), "--prompts", str(prompts), "--out", str(tmp_path / "pan.json")])
    assert [v["chunks"] for v in record["videos"]] == [2, 2, 2]  # 36 frames = 2 whole chunks
    assert record["mean_error"] < 0.02 and record["direction_ok"] == 1.0
    assert record["progress_error"] < 0.05 and record["progress_direction_ok"] == 1.0  # the world moves on
    assert (tmp_path / "pan.json").is_file()
    skipped = chunk_pan.main([str(tmp_path / "data"), "--prompts", str(prompts), "--skip-chunks", "1"])
    assert [v["chunks"] for v in skipped["videos"]] == [1, 1, 1]
    prompts.write_text(rows[0]["text"] + "\n")
    with pytest.raises(ValueError, match="1 prompts for 3 videos"):
        chunk_pan.main([str(tmp_path / "data"), "--prompts", str(prompts)])
    with pytest.raises(ValueError, match="no .mp4 files"):
        chunk_pan.main([str(tmp_path), "--prompts", str(prompts)])


def test_a_sawtooth_pans_inside_chunks_but_does_not_progress(tmp_path):
    """Every chunk the same 17 frames of a 1 px/frame pan (what a model that copies its context in place on a
    chunk-anchored canvas makes): the chunk pan is the prompt's, the chunk-to-chunk progress 0."""
    import numpy as np

    from opensora.utils.video_io import read_video
    from tools.synthetic.mp4 import write_mp4

    table = generate(tmp_path / "data", "train", num_videos=1, seconds=2, width=64, height=32, progress=False)
    row = next(csv.DictReader(open(table)))
    frames = read_video(Path(table).parent / Path(row["path"]).name)[:17]
    out = tmp_path / "saw"
    out.mkdir()
    write_mp4(out / "saw.mp4", np.concatenate([frames] * 4), fps=24)
    (tmp_path / "p.txt").write_text(row["text"] + "\n")
    record = chunk_pan.main([str(out), "--prompts", str(tmp_path / "p.txt")])
    truth = record["videos"][0]["prompted"]
    assert record["mean_error"] < 0.05 and record["direction_ok"] == 1.0
    assert abs(record["videos"][0]["mean_progress"]) < 0.05
    assert record["progress_error"] == pytest.approx(abs(truth), abs=0.05)
