"""Checks of a training config before anything is built or any folder is created.

A failed check raises ``ValueError`` / ``FileNotFoundError`` / ``ConfigKeyError`` naming the key (and its
``scripts/train.py`` flag), the offending value and the fix, so ``train.py`` fails in one line and leaves no
experiment folder behind.
"""
from __future__ import annotations

import math
import numbers
import re
from pathlib import Path

from opensora.acceleration.checkpoint import STATE_FILE, list_checkpoints
from opensora.utils.config import check_top_level_keys
from opensora.utils.dtype import dtype_name
from opensora.utils.logging import get_logger

logger = get_logger(__name__)

# every key a training config may hold (configs/pavdm/_base_/train_runtime.py + the networks)
TRAIN_CONFIG_KEYS = {
    "model", "vae", "text_encoder", "scheduler", "objective", "loss", "dataset", "buckets", "batch_size", "num_workers",
    "backend", "plugin", "sp_size", "dtype", "optimizer", "warmup_steps", "grad_clip", "ema_decay", "ema_warmup",
    "seed", "outputs", "load", "epochs", "max_steps", "log_every", "ckpt_every", "keep_last", "tensorboard", "wandb",
    "wandb_project",
}
BACKEND_PLUGINS = {"colossalai": ("zero2", "ddp"), "torch": ("zero", "ddp")}
OPTIMIZER_KEYS = {"lr", "weight_decay", "eps", "betas"}
_TMP = re.compile(r"^epoch\d+-global_step\d+\.tmp$")
FLAGS = {"batch_size": "--batch-size", "num_workers": "--num-workers", "epochs": "--epochs",
         "max_steps": "--max-steps", "log_every": "--log-every", "ckpt_every": "--ckpt-every",
         "warmup_steps": "--warmup-steps", "seed": "--seed", "plugin": "--plugin", "dtype": "--dtype",
         "optimizer.lr": "--lr", "load": "--load", "dataset.data_path": "--data-path"}


def _flag(key: str) -> str:
    return f" ({FLAGS[key]})" if key in FLAGS else ""


def _int(cfg, key: str, minimum: int, optional: bool = False) -> None:
    value = cfg[key]
    if optional and value is None:
        return
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{key}={value!r}{_flag(key)} must be an integer >= {minimum}"
                         f"{' or None' if optional else ''}")


def _check_numbers(cfg) -> None:
    for key, minimum in (("batch_size", 1), ("num_workers", 0), ("epochs", 1), ("log_every", 1),
                         ("ckpt_every", 0), ("warmup_steps", 0), ("seed", 0), ("keep_last", 0)):
        _int(cfg, key, minimum)
    _int(cfg, "max_steps", 1, optional=True)
    for key, low, high in (("ema_decay", 0.0, 1.0), ("grad_clip", 0.0, math.inf)):
        value = cfg[key]
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"{key}={value!r} must be a number in [{low}, {high}]")


def _check_backend(cfg) -> None:
    if cfg.backend not in BACKEND_PLUGINS:
        raise ValueError(f"backend={cfg.backend!r}; use one of {sorted(BACKEND_PLUGINS)}")
    plugins = BACKEND_PLUGINS[cfg.backend]
    if cfg.plugin not in plugins:
        raise ValueError(f"plugin={cfg.plugin!r} (--plugin) does not exist for backend={cfg.backend!r}; use one of "
                         f"{plugins} (or --cfg-options backend=... to switch backend)")
    dtype_name(cfg.dtype)


def _check_optimizer(cfg) -> None:
    unknown = sorted(set(cfg.optimizer) - OPTIMIZER_KEYS)
    if unknown:
        raise ValueError(f"optimizer has no option(s) {unknown}; its options are {sorted(OPTIMIZER_KEYS)}")
    lr = cfg.optimizer.get("lr")
    if not isinstance(lr, numbers.Real) or isinstance(lr, bool) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"optimizer.lr={lr!r} (--lr) must be a finite number > 0, e.g. --lr 1e-4")


def _check_data(cfg) -> None:
    path = cfg.dataset.get("data_path")
    if path is None:
        raise ValueError("no training data: pass --data-path CSV (dataset.data_path; see tools/build_csv.py)")
    if not Path(path).is_file():
        raise FileNotFoundError(f"dataset CSV {path} (--data-path) does not exist; build one with "
                                f"`python tools/build_csv.py VIDEO_DIR --output {path}`")


def stale_checkpoints(folder) -> list[Path]:
    """Checkpoint folders left under a temporary name by a save that was killed (never loadable)."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_dir() and _TMP.match(p.name)) if folder.is_dir() else []


def check_load(path) -> Path:
    """``--load`` must be a complete checkpoint; a ``.tmp`` one (an interrupted save) is refused, naming the
    newest complete checkpoint of its folder."""
    path = Path(path)
    if _TMP.match(path.name) or not (path / STATE_FILE).is_file():
        complete = list_checkpoints(path.parent) if path.parent.is_dir() else []
        use = f"load the newest complete one: --load {complete[-1]}" if complete else \
            "no complete checkpoint is in that folder"
        why = "is an incomplete checkpoint left by an interrupted save (its name ends in .tmp)" \
            if path.name.endswith(".tmp") else ("is not a training checkpoint (no running_states.json)"
                                                if path.is_dir() else "does not exist")
        raise FileNotFoundError(f"--load {path} {why}; {use}")
    stale = stale_checkpoints(path.parent)
    if stale:
        logger.warning("%s holds %d incomplete checkpoint(s) left by interrupted saves (never loaded; safe to "
                       "delete once that run has stopped): %s", path.parent, len(stale),
                       ", ".join(p.name for p in stale))
    return path


def check_train_config(cfg) -> None:
    """Everything ``train`` checks before it builds a network or creates ``outputs/NNN-<config>``."""
    check_top_level_keys(cfg, TRAIN_CONFIG_KEYS, "training config")
    _check_data(cfg)
    _check_numbers(cfg)
    _check_backend(cfg)
    _check_optimizer(cfg)
    if cfg.load:
        check_load(cfg.load)
