"""tools/compare_methods: prompt selection, method / config resolution, and one end-to-end run (random tiny
weights, 1-s videos, all four methods) checking the report, plots, metrics.json and runs.json."""
import json
import re

import pytest

from opensora.utils.config import ConfigKeyError
from tools.compare_methods import METHODS, main, read_prompt_file, resolve_configs, select_prompts

RUNS = [*METHODS, *(f"{m}-ext" for m in METHODS)]  # text-to-video, then extension of a ground-truth clip
from tools.synthetic.captions import parse_caption, split_captions

# random weights, the smallest network: inference takes about a second per method on a 2-core CPU
TINY = ["model.from_pretrained=None", "model.depth=1", "model.hidden_size=32", "model.num_heads=2"]


def test_select_prompts_is_deterministic_distinct_and_held_out():
    first = select_prompts(6)
    assert first == select_prompts(6)
    assert select_prompts(3) == first[:3]
    assert len(set(first)) == 6
    heldout = {c.text for c in split_captions("heldout")}
    assert set(first) <= heldout
    assert select_prompts(6, seed=1) != first


def test_select_prompts_spreads_palettes_and_directions():
    caps = [parse_caption(t) for t in select_prompts(3)]
    assert len({c.palette for c in caps}) == 3  # the three held-out (palette, objects) pairs
    assert len({c.direction for c in caps[:2]}) == 2


@pytest.mark.parametrize("num", [0, len(split_captions("heldout")) + 1])
def test_select_prompts_rejects_impossible_counts(num):
    with pytest.raises(ValueError, match="held-out split has"):
        select_prompts(num)


def test_read_prompt_file(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("a\n\nb\n")
    assert read_prompt_file(f, None) == ["a", "b"]
    assert read_prompt_file(f, 1) == ["a"]
    with pytest.raises(ValueError, match="only 2 prompts"):
        read_prompt_file(f, 3)


def test_resolve_configs_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match=r"unknown method\(s\) \['xx'\]; valid: pa, rn, rw, ad"):
        resolve_configs(["pa", "xx"], "configs/pavdm", [])
    with pytest.raises(FileNotFoundError, match="missing inference config"):
        resolve_configs(["pa"], tmp_path, [])
    with pytest.raises(ValueError, match="NAME=PATH"):
        resolve_configs(["pa"], "configs/pavdm", ["pa"])
    own = tmp_path / "mine.py"
    own.write_text("")
    configs = resolve_configs(["rn", "mine"], "configs/pavdm", [f"mine={own}"])
    assert configs == {"rn": resolve_configs(["rn"], "configs/pavdm", [])["rn"], "mine": own}


def test_unknown_cfg_option_fails_before_generating(tmp_path):
    with pytest.raises(ConfigKeyError, match="model.nope"):
        main(["--out", str(tmp_path), "--methods", "pa", "--num-prompts", "1", "--seconds", "1",
              "--no-progress", "--cfg-options", *TINY, "model.nope=1"])


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp")
    readme = main(["--out", str(out), "--num-prompts", "1", "--seconds", "1", "--no-progress", "--no-keep-videos",
                   "--cfg-options", *TINY])
    return out, readme.read_text()


def test_report_has_a_row_per_method_and_the_command(comparison):
    out, text = comparison
    assert "python tools/compare_methods.py --out" in text
    metrics_table = [block for block in text.split("## Metrics\n")[1].split("\n\n") if block.startswith("|")][0]
    header = metrics_table.splitlines()[0]
    for column in ("seam_diff", "seam_ratio", "clip_seam_ratio", "sharpness", "shift_error", "palette_error",
                   "num_scenes", "Δ sharpness", "Δ palette_error"):
        assert f" {column} |" in header
    rows = [line.split(" | ")[0].lstrip("| ") for line in metrics_table.splitlines()[2:]]
    assert rows == RUNS
    cost_rows = [r for r in text.split("## Cost")[1].split("## Metrics")[0].splitlines() if r.startswith("| ")]
    assert [r.split(" | ")[0].lstrip("| ") for r in cost_rows[1:]] == RUNS


def test_extension_runs_continue_the_ground_truth_clip(comparison):
    out, text = comparison
    refs = sorted((out / "references").glob("ref_*.mp4"))
    assert [r.name for r in refs] == ["ref_0.mp4"]
    sidecar = json.loads((out / "videos" / "pa-ext" / "sample_0000.json").read_text())
    assert sidecar["reference"] == str(refs[0].resolve())
    assert sidecar["seams"]["clip_start_frames"] == [17], "the first generated chunk follows the reference"
    assert "![contact sheet](contact_sheet.png)" in text and (out / "contact_sheet.png").stat().st_size > 1000


def test_report_plots_exist(comparison):
    out, text = comparison
    links = re.findall(r"!\[[^]]*\]\((plots/[^)]+)\)", text)
    assert "plots/sharpness.png" in links and "plots/palette_error.png" in links
    assert all((out / link).is_file() for link in links)


def test_metrics_and_runs_cover_every_method(comparison):
    out, _ = comparison
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["methods"]) == RUNS
    assert "palette_error" in metrics["metrics"]  # the prompts' captions served as ground truth
    runs = json.loads((out / "runs.json").read_text())
    assert [r["method"] for r in runs] == RUNS
    assert all(r["wall_s"] > 0 and r["model_calls"][0] > 0 and r["checkpoint"] is None for r in runs)


def test_no_keep_videos_removes_only_the_mp4s(comparison):
    out, _ = comparison
    for method in RUNS:
        assert not list((out / "videos" / method).glob("*.mp4"))
        assert (out / "videos" / method / "sample_0000.json").is_file()
