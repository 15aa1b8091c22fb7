"""Feature extraction (tools/extract_features.py) and training on the features, in one process."""
import importlib.util
import json
import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from media import make_dataset
from opensora.datasets import read_csv
from opensora.training import cli as train_cli

REPO = Path(__file__).resolve().parents[2]


def _load(relpath: str, name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / relpath)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def keep_root_logging():
    """The training run's setup_logging replaces the root handlers (pytest's capture among them)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_extract_features_then_train_on_them(tmp_path, keep_root_logging):
    csv = make_dataset(tmp_path / "data", num_good=3, num_frames=52, short=1, corrupt=1)
    tiny = str(REPO / "configs/pavdm/train_tiny_cpu.py")
    extract = _load("tools/extract_features.py", "extract_features")
    assert extract.main([tiny, "--data-path", str(csv), "--output", str(tmp_path / "feats"), "--no-progress",
                         "--save-dtype", "fp32"]) == 0
    rows = read_csv(tmp_path / "feats" / "features.csv")
    assert len(rows) == 3 and {r["num_frames"] for r in rows} == {51}  # short + corrupt skipped
    feats = load_file(rows[0]["path"])
    assert feats["latents"].shape == (4, 15, 4, 6) and feats["y"].shape == (1, 8, 16) and feats["mask"].shape == (8,)

    cfg = tmp_path / "train_feats.py"
    cfg.write_text(f'_base_ = ["{tiny}"]\ndataset = dict(_delete_=True, type="LatentTextDataset", data_path=None)\n')
    rc = train_cli.main([str(cfg), "--data-path", str(tmp_path / "feats" / "features.csv"), "--outputs",
                     str(tmp_path / "out"), "--max-steps", "2", "--batch-size", "1", "--cfg-options", "backend=torch",
                     "plugin=ddp"])
    assert rc == 0
    (exp,) = list((tmp_path / "out").iterdir())
    metrics = [json.loads(r) for r in (exp / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2] and all(torch.isfinite(torch.tensor(m["loss"])) for m in metrics)
    assert (exp / "epoch0-global_step2" / "ema" / "model.safetensors").is_file()
