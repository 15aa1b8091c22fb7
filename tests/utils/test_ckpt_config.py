import pytest
import torch

from opensora.utils.ckpt import (CheckpointMismatchError, WeightsNotFoundError, load_state_dict,
                                 load_weights_strict, resolve_weights, save_safetensors)
from opensora.utils.config import ConfigKeyError, load_config
from opensora.utils.dist import shard


def _model():
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))


def test_safetensors_and_pt_round_trip(tmp_path):
    m = _model()
    save_safetensors(m, tmp_path / "w.safetensors")
    torch.save({"ema": m.state_dict()}, tmp_path / "w.pt")
    for name in ("w.safetensors", "w.pt"):
        m2 = _model()
        load_weights_strict(m2, load_state_dict(resolve_weights(tmp_path / name)))
        for a, b in zip(m.parameters(), m2.parameters()):
            assert torch.equal(a, b)
    assert not list(tmp_path.glob("*.tmp"))


def test_snapshot_dir(tmp_path):
    save_safetensors(_model(), tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text("{}")
    assert resolve_weights(tmp_path) == tmp_path / "model.safetensors"


def test_missing_weights_message(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="local copy") as e:
        resolve_weights(tmp_path / "nope.safetensors")
    assert "nope.safetensors" in str(e.value)
    with pytest.raises(WeightsNotFoundError, match="no-such-owner/no-such-model"):
        resolve_weights("no-such-owner/no-such-model")


def test_mismatch_lists_keys():
    sd = _model().state_dict()
    sd["extra.weight"] = sd.pop("1.weight")
    sd["0.bias"] = torch.zeros(7)
    with pytest.raises(CheckpointMismatchError) as e:
        load_weights_strict(_model(), sd)
    msg = str(e.value)
    assert "1.weight" in msg and "extra.weight" in msg and "0.bias" in msg and "(7,)" in msg


def test_config_overrides_and_unknown_keys(tmp_path):
    (tmp_path / "base.py").write_text("model = dict(type='A', depth=2)\nsteps = 30\n")
    (tmp_path / "child.py").write_text("_base_ = ['base.py']\nmodel = dict(depth=4)\n")
    cfg = load_config(tmp_path / "child.py", {"steps": 10}, {"model.depth": 6})
    assert cfg.model.type == "A" and cfg.model.depth == 6 and cfg.steps == 10
    with pytest.raises(ConfigKeyError, match="model.dpth.*model.depth"):
        load_config(tmp_path / "child.py", {"model.dpth": 1})


def test_shard_covers_each_item_once():
    items = list(range(7))
    parts = [shard(items, r, 3) for r in range(3)]
    assert sorted(sum(parts, [])) == items
