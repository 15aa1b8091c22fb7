"""tools/seam_floor.py: the ground truth of two held-out captions has no seams and pans at the caption's speed (an
independent fact of the synthetic world: it shifts by exactly dx per frame), and the shipped VAE's reconstruction
stays close to it; bad input is refused with the reason."""
import json

import pytest

from tools import seam_floor
from tools.compare_methods import select_prompts


def test_ground_truth_and_its_reconstruction_on_held_out_captions(tmp_path):
    results = seam_floor.main(["--out", str(tmp_path), "--num-prompts", "2", "--seconds", "1.5", "--no-progress"])
    assert set(results) == {"gt", "vae"}
    for name in ("gt", "vae"):
        assert sorted(p.name for p in (tmp_path / name).glob("*.mp4")) == ["sample_0000.mp4", "sample_0001.mp4"]
        caption = json.loads((tmp_path / name / "sample_0001.json").read_text())["caption"]
        assert caption == select_prompts(2)[1]
    for gt, vae in zip(results["gt"], results["vae"]):
        g, v = gt["summary"], vae["summary"]
        assert 0.8 < g["seam_ratio"] < 1.25  # a continuous pan: no frame pair is special
        assert g["shift_error"] < 0.1 and g["direction_ok"] == 1.0
        assert abs(v["frame_diff"] - g["frame_diff"]) < 0.3 * g["frame_diff"]
        assert v["shift_error"] < 0.15
    readme = (tmp_path / "README.md").read_text()
    assert "python tools/seam_floor.py --out" in readme and "| gt |" in readme and "| vae |" in readme
    assert (tmp_path / "metrics.json").is_file()


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        seam_floor.main(["--out", str(tmp_path), "--seconds", "0"])
    bad = tmp_path / "prompts.txt"
    bad.write_text("a cat on a sofa\n")
    with pytest.raises(ValueError, match="does not follow the grammar"):
        seam_floor.main(["--out", str(tmp_path), "--prompt-path", str(bad)])
