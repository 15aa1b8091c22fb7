"""Every training config loads, accepts every train.py flag, and builds its scheduler, objective and loss."""
from pathlib import Path

import pytest
import torch

from opensora.registry import MODELS, build_module
from opensora.training.build import build_objective_parts
from opensora.training.cli import FLAG_TO_KEY
from opensora.utils.config import load_config, to_dict

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs/pavdm").glob("train*.py"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_train_config_builds(path):
    overrides = {key: None for key in FLAG_TO_KEY.values()}  # every flag's key must exist
    cfg = load_config(path, overrides=overrides)
    assert not {"num_steps", "chunk_size"} & set(cfg.objective), "the scheduler and the VAE own these values"
    if cfg.loss.type == "pixel":  # the pixel loss reads the fitted VAE's basis
        vae = build_module(to_dict(cfg.vae), MODELS)
    else:
        with torch.device("meta"):
            vae = build_module(dict(to_dict(cfg.vae), from_pretrained=None), MODELS)
    scheduler, objective, loss = build_objective_parts(cfg, vae=vae)
    assert callable(loss)
    frames = max(f for f, _ in cfg.buckets)
    h, w = cfg.dataset.get("image_size", (240, 426))  # feature datasets store the size per row
    t, _, _ = objective.sample(2, vae.latent_frames(frames), height=h, width=w,
                               generator=torch.Generator().manual_seed(0), device="cpu")
    assert t.shape[0] == 2 and ((t >= 0) & (t <= 1000)).all()
