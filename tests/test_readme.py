"""The README's "Python API" examples run as written (the embedded tiny model, CPU, a few seconds each), and its
table "What happens on bad input" lists exactly the cases the bad-input tests cover."""
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def python_api_examples() -> list:
    section = (ROOT / "README.md").read_text().split("\n## Python API\n")[1].split("\n## ")[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


@pytest.mark.slow  # 104 model calls of the shipped tiny model (2 s + 1 s + 2 s of video)
def test_readme_python_api_examples_run_as_written(tmp_path, monkeypatch):
    examples = python_api_examples()
    assert len(examples) == 2
    for name in ("configs", "checkpoints"):  # the examples' relative paths, from a scratch working directory
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    streamed, extended = ({} for _ in examples)
    for code, namespace in zip(examples, (streamed, extended)):
        exec(compile(code, "README.md", "exec"), namespace)
    assert streamed["video"].shape == (48, 64, 96, 3) and streamed["video"].dtype == np.uint8
    assert len(streamed["frames"]) == 3 and streamed["frames"][0].shape == (17, 64, 96, 3)
    from opensora.utils.video_io import read_video

    clip, longer = extended["clip"], extended["longer"][0]
    assert read_video(clip).shape[0] == 24 and read_video(longer).shape == (48, 64, 96, 3)
    assert (tmp_path / "samples/api_extended/sample_0000.json").is_file()


def _bad_input_case_ids() -> set:
    """The case ids of the bad-input tests (inference, training, tools)."""
    import importlib
    import importlib.util
    import sys

    sys.path.insert(0, str(ROOT / "tests/datasets"))  # media.py, imported by the training tests
    modules = [importlib.import_module("tests.sampling.test_bad_input")]  # a package (relative imports)
    for path in ("tests/training/test_train_bad_input.py", "tests/tools/test_tools_bad_input.py"):
        spec = importlib.util.spec_from_file_location(f"readme_{Path(path).stem}", ROOT / path)
        modules.append(importlib.util.module_from_spec(spec))
        spec.loader.exec_module(modules[-1])
    return set().union(*(m.CASE_IDS for m in modules))


def test_readme_bad_input_table_lists_exactly_the_tested_cases():
    section = (ROOT / "README.md").read_text().split("\n## What happens on bad input\n")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.M)
    assert len(rows) == len(set(rows)), "a case is listed twice"
    assert set(rows) == _bad_input_case_ids()
