"""Training checkpoints: one directory per save, written under a temporary name and renamed when complete.

Layout of ``<exp_dir>/epoch{E}-global_step{S}/``:

=======================  ===========================================================================
``model/``, ``optimizer/``  the backend's files (ColossalAI sharded, or ``model.safetensors`` /
                         ``optimizer.pt`` for the torch backend); ``lr_scheduler.pt``
``ema/``                 ``model.safetensors`` (fp32 EMA) + ``config.json``: a snapshot directory that
                         ``STDiT3.from_pretrained`` and ``scripts/inference.py --ckpt-path`` accept
``running_states.json``  epoch, batch within the epoch, global step, world size, sp_size, data counters
``rank/rank{r}.pt``      each rank's own state (RNG and generator states, data counters)
=======================  ===========================================================================

A directory without ``running_states.json`` (or ending in ``.tmp``) is incomplete and never loaded.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import torch

from opensora.utils.ckpt import load_state_dict, load_weights_strict, save_safetensors
from opensora.utils.dist import barrier, get_rank, get_world_size, is_main_process
from opensora.utils.logging import get_logger

from .parallel_states import get_parallel_groups

logger = get_logger(__name__)
_NAME = re.compile(r"^epoch(\d+)-global_step(\d+)$")
STATE_FILE = "running_states.json"


def checkpoint_name(epoch: int, global_step: int) -> str:
    return f"epoch{epoch}-global_step{global_step}"


def list_checkpoints(exp_dir) -> list[Path]:
    """Complete checkpoints in ``exp_dir``, oldest first (by global step)."""
    exp_dir = Path(exp_dir)
    found = [p for p in exp_dir.iterdir() if _NAME.match(p.name) and (p / STATE_FILE).is_file()] \
        if exp_dir.is_dir() else []
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(2)))


def prune_checkpoints(exp_dir, keep_last: int) -> list[Path]:
    """Delete all but the newest ``keep_last`` checkpoints (``keep_last <= 0`` keeps all)."""
    ckpts = list_checkpoints(exp_dir)
    doomed = ckpts[:-keep_last] if keep_last > 0 else []
    for path in doomed:
        shutil.rmtree(path)
    return doomed


def save_ema(ema: torch.nn.Module, directory: Path) -> Path:
    """``directory/model.safetensors`` (+ ``config.json`` for a transformers model)."""
    path = save_safetensors(ema, directory / "model.safetensors", metadata={"format": "pt", "content": "ema"})
    if hasattr(ema, "config") and hasattr(ema.config, "to_json_string"):
        (directory / "config.json").write_text(ema.config.to_json_string())
    return path


def save_checkpoint(exp_dir, name: str, *, backend, ema, running_state: dict, rank_state: dict,
                    keep_last: int) -> Path:
    """Collective: write checkpoint ``name`` atomically (``name.tmp`` renamed to ``name``), then prune."""
    final = Path(exp_dir) / name
    tmp = final.with_name(name + ".tmp")
    if is_main_process():
        shutil.rmtree(tmp, ignore_errors=True)  # left over from a crash during a save
        (tmp / "rank").mkdir(parents=True)
    barrier()
    backend.save(tmp)
    torch.save(rank_state, tmp / "rank" / f"rank{get_rank()}.pt")
    if is_main_process():
        save_ema(ema, tmp / "ema")
        state = dict(running_state, world_size=get_world_size())
        (tmp / STATE_FILE).write_text(json.dumps(state, indent=2))
    barrier()
    if is_main_process():
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for path in prune_checkpoints(exp_dir, keep_last):
            logger.info("removed old checkpoint %s (keep_last=%d)", path, keep_last)
    barrier()
    return final


def read_running_state(path) -> dict:
    path = Path(path)
    if not (path / STATE_FILE).is_file():
        raise FileNotFoundError(f"{path} is not a complete training checkpoint (no {STATE_FILE}); pass a directory "
                                f"like outputs/000-train/epoch0-global_step100")
    return json.loads((path / STATE_FILE).read_text())


def load_checkpoint(path, *, backend, ema) -> tuple[dict, dict | None]:
    """Collective: restore model, optimizer, lr scheduler and EMA; return (running state, this rank's state).

    Weights and optimizer states do not depend on the layout, so a checkpoint loads under any world size and
    ``sp_size``. The rank state is None (with a warning) if either changed: data order and noise then differ
    from the uninterrupted run.
    """
    path = Path(path)
    state = read_running_state(path)
    backend.load(path)
    load_weights_strict(ema, load_state_dict(path / "ema" / "model.safetensors"))
    rank_file = path / "rank" / f"rank{get_rank()}.pt"
    saved = (state.get("world_size"), state.get("sp_size", 1))
    now = (get_world_size(), get_parallel_groups().sp_size)
    if saved != now or not rank_file.is_file():
        logger.warning("checkpoint %s was written by %s processes with sp_size %s, now %d with sp_size %d: "
                       "model/optimizer are restored, but the data order and random streams will not match the "
                       "original run", path, *saved, *now)
        return state, None
    return state, torch.load(rank_file, weights_only=True)
