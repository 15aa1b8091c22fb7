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
    assert (tmp_path / "pan.json").is_file()
    skipped = chunk_pan.main([str(tmp_path / "data"), "--prompts", str(prompts), "--skip-chunks", "1"])
    assert [v["chunks"] for v in skipped["videos"]] == [1, 1, 1]
    prompts.write_text(rows[0]["text"] + "\n")
    with pytest.raises(ValueError, match="1 prompts for 3 videos"):
        chunk_pan.main([str(tmp_path / "data"), "--prompts", str(prompts)])
    with pytest.raises(ValueError, match="no .mp4 files"):
        chunk_pan.main([str(tmp_path), "--prompts", str(prompts)])
