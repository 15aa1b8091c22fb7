"""Every config under configs/ loads, names registered components, and inference configs hold exactly the keys
the inference command line reads (stale or misspelt keys fail here) and give a valid plan without weights."""
from pathlib import Path

import pytest

from opensora.registry import MODELS, SCHEDULERS
from opensora.sampling import cli
from opensora.utils.config import load_config

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p for p in (ROOT / "configs").rglob("*.py"))
INFER = [p for p in CONFIGS if p.name.startswith("infer_") and p.parent.name != "_base_"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_config_loads_and_types_are_registered(path):
    cfg = load_config(path)
    for key, registry in (("model", MODELS), ("vae", MODELS), ("text_encoder", MODELS), ("scheduler", SCHEDULERS)):
        if key in cfg and cfg[key] is not None and "type" in cfg[key]:
            registry.import_from_location()
            assert registry.get(cfg[key]["type"]) is not None, f"{path.name}: {key}.type={cfg[key]['type']!r}"


def test_inference_configs_exist():
    assert {p.name for p in INFER} >= {"infer_60s.py", "infer_60s_rn.py", "infer_60s_rw.py", "infer_60s_ad.py"}


@pytest.mark.parametrize("path", INFER, ids=lambda p: p.name)
def test_inference_config_keys_and_plan(path, tmp_path):
    cfg = load_config(path)
    assert set(cfg.keys()) == cli.CONFIG_KEYS, f"{path.name}: keys differ from opensora.sampling.cli.CONFIG_KEYS"
    for key in cli.FLAG_TO_KEY.values():  # every flag maps onto a key this config defines
        node = cfg
        for part in key.split("."):
            assert part in node, f"{path.name}: flag key {key} missing"
            node = node[part]
    record = cli.main([str(path), "--dry-run", "--plan-out", str(tmp_path / "plan.json")])
    assert record["num_calls"] > 0 and record["num_latents"] % record["chunk_size"] == 0
