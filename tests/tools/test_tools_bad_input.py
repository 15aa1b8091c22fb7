"""Bad input to the tools (issue 13): the evaluation skips a video it cannot read instead of aborting all of
them, the tools share the one-line wrapper, their help examples are real keys, and they are installable."""
import json
import re
import sys
from pathlib import Path

import pytest

from opensora.utils.cli import run_cli
from opensora.utils.config import check_keys, load_config
from tools.eval import evaluate
from tools.synthetic import Caption, World, WorldSpec, write_mp4

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval")
    spec = WorldSpec(Caption("left", "steadily", "day", "houses"), seed=0)
    write_mp4(d / "good.mp4", World(spec).frames(48), fps=24)
    write_mp4(d / "timeline.mp4", World(spec).frames(48), fps=24)
    (d / "timeline.json").write_text(json.dumps({"prompt": [["a camera pans left steadily over green hills under a "
                                                             "blue sky with houses", 0], ["something else", 1]]}))
    (d / "corrupt.mp4").write_bytes(b"not an mp4 at all" * 20)
    return d


def test_evaluate_skips_videos_it_cannot_evaluate(videos, tmp_path, capsys):
    results = evaluate.run([str(videos)], ["m"], tmp_path, evaluate.EvalOptions(scenes=False), progress=False)
    assert [Path(v["video"]).name for v in results["m"]] == ["good.mp4"]
    err = capsys.readouterr().err
    assert re.search(r"skipped 2 of 3 videos that could not be evaluated: .*corrupt\.mp4, .*timeline\.mp4", err)
    assert (tmp_path / "metrics.json").is_file()


def test_evaluate_with_no_readable_video_is_one_line(videos, tmp_path, capsys):
    code = run_cli(evaluate.main, ["--videos", str(videos / "corrupt.mp4"), "--out", str(tmp_path), "--no-scenes",
                                   "--no-progress"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(errors) == 1 and "none of the 1 videos could be evaluated" in errors[0]


def test_compare_methods_uses_the_wrapper(monkeypatch, capsys):
    from tools import compare_methods

    monkeypatch.setattr(sys, "argv", ["compare_methods.py", "--methods", "pa", "xx", "--out", "/tmp/unused"])
    assert compare_methods.cli() == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "unknown method(s) ['xx']" in errors[0]


@pytest.mark.parametrize("module,config", [("opensora.sampling.cli", "configs/pavdm/infer_60s.py"),
                                           ("opensora.training.cli", "configs/pavdm/train.py"),
                                           ("tools.extract_features", "configs/pavdm/train.py")])
def test_help_examples_are_real_keys_of_the_named_config(module, config):
    import importlib

    parser = importlib.import_module(module).build_parser()
    text = " ".join(parser.format_help().split())
    assert f"e.g. {config}" in text
    example = re.search(r"e\.g\. --cfg-options ((?:\S+=\S+ )+)\(unknown", text).group(1).split()
    check_keys(load_config(REPO / config), {k.split("=")[0]: None for k in example})


def test_tools_are_installed_as_packages(monkeypatch):
    """``python -m tools.synthetic.generate`` works from any folder once the repository is pip-installed."""
    from distutils.core import run_setup

    monkeypatch.chdir(REPO)
    dist = run_setup(str(REPO / "setup.py"), stop_after="init")
    assert {"tools", "tools.synthetic", "tools.eval"} <= set(dist.packages)


# README rows covered by the tests above (id -> test)
OTHER_CASES = {
    "evaluate-corrupt-video": test_evaluate_skips_videos_it_cannot_evaluate,
    "evaluate-timeline-sidecar": test_evaluate_skips_videos_it_cannot_evaluate,
    "evaluate-nothing-readable": test_evaluate_with_no_readable_video_is_one_line,
    "compare-methods-unknown-method": test_compare_methods_uses_the_wrapper,
}
CASE_IDS = set(OTHER_CASES)
