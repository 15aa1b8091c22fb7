"""Every training config loads, accepts every train.py flag, and builds its scheduler and objective."""
import importlib.util
from pathlib import Path

import pytest
import torch

from opensora.registry import MODELS, SCHEDULERS, build_module
from opensora.training.objectives import build_objective
from opensora.training.step import frames_for_latents
from opensora.utils.config import load_config, to_dict

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs/pavdm").glob("train*.py"))


def _flag_to_key():
    spec = importlib.util.spec_from_file_location("train_script", REPO / "scripts/train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FLAG_TO_KEY


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_train_config_builds(path):
    overrides = {key: None for key in _flag_to_key().values()}  # every flag's key must exist
    cfg = load_config(path, overrides=overrides)
    with torch.device("meta"):
        vae = build_module(dict(to_dict(cfg.vae), from_pretrained=None), MODELS)
    scheduler = build_module(to_dict(cfg.scheduler), SCHEDULERS)
    objective = build_objective(to_dict(cfg.objective), scheduler=scheduler,
                                frames_for_latents=lambda n: frames_for_latents(vae, n))
    frames = max(f for f, _ in cfg.buckets)
    h, w = cfg.dataset.get("image_size", (240, 426))  # feature datasets store the size per row
    t, _, _ = objective.sample(2, vae.latent_frames(frames), height=h, width=w,
                               generator=torch.Generator().manual_seed(0), device="cpu")
    assert t.shape[0] == 2 and ((t >= 0) & (t <= 1000)).all()
