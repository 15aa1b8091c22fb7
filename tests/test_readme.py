"""The README's "Python API" examples run as written (the embedded tiny model, CPU, a few seconds each)."""
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
