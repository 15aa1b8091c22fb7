"""The training loop: epochs over the bucket sampler, EMA, logging, periodic atomic checkpoints, resume.

Resume is exact: a checkpoint after global step N stores (epoch, batch within the epoch, N), every rank's
RNG and step-generator state, the model, optimizer, lr scheduler and EMA; the data order is a pure
function of (seed, epoch), so steps N + 1, ... replay the uninterrupted run (bit-exact in fp32).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from opensora.acceleration.checkpoint import checkpoint_name, load_checkpoint, save_checkpoint
from opensora.acceleration.parallel_states import get_parallel_groups
from opensora.utils.dist import get_world_size
from opensora.utils.files import disk_errors
from opensora.utils.logging import get_logger

from .step import StepParts, compute_loss, global_mean
from .train_utils import Throughput, check_finite, ema_decay_at, rng_state, set_rng_state, update_ema

logger = get_logger(__name__)


def _param_grad_norm(module) -> float:
    """L2 norm of the gradients held by ``module``'s parameters (DDP: the full, all-reduced gradients)."""
    grads = [p.grad.detach().double().norm() for p in module.parameters() if p.grad is not None]
    return float(torch.stack(grads).norm()) if grads else 0.0


def step_with_grad_norm(backend):
    """``backend.step()`` and the step's gradient norm (before clipping), whatever the backend: the torch backend
    returns it; ColossalAI's ZeRO optimizer keeps it (``get_grad_norm``); for ColossalAI DDP it is computed from
    the parameters' gradients before the step."""
    ddp_grads = getattr(backend, "plugin_name", None) == "ddp" and hasattr(backend, "booster")
    before = _param_grad_norm(backend.module) if ddp_grads else None
    norm = backend.step()
    if norm is None:
        norm = before
    if norm is None and hasattr(getattr(backend, "optimizer", None), "get_grad_norm"):
        try:
            norm = backend.optimizer.get_grad_norm()
        except NotImplementedError:
            norm = None
    return None if norm is None else float(norm)


@dataclass
class LoopConfig:
    epochs: int = 1000
    max_steps: int | None = None  # stop after this many global steps (None: run all epochs)
    log_every: int = 10
    ckpt_every: int = 500
    keep_last: int = 3  # checkpoints kept on disk (<= 0 keeps all)
    ema_decay: float = 0.99
    ema_warmup: bool = False  # decay min(ema_decay, (1 + step) / (10 + step)); see train_utils.ema_decay_at


@dataclass
class Position:
    epoch: int = 0
    batch: int = 0  # batches of ``epoch`` already trained on (per rank)
    global_step: int = 0


class Trainer:
    def __init__(self, parts: StepParts, loader, sampler, ema, monitor, exp_dir, loop: LoopConfig):
        self.parts, self.loader, self.sampler, self.ema, self.monitor = parts, loader, sampler, ema, monitor
        self.exp_dir, self.cfg = Path(exp_dir), loop
        self.pos, self.last_ckpt, self.saved_step = Position(), None, -1
        self.bad_rows: set[int] = set()
        self.throughput, self._losses = Throughput(), []

    # ------------------------------------------------------------------ checkpoints
    def resume(self, path) -> None:
        state, mine = load_checkpoint(path, backend=self.parts.backend, ema=self.ema)
        self.pos = Position(state["epoch"], state["batch"], state["global_step"])
        if mine is not None:
            set_rng_state(mine["rng"], self.parts.generator, self.parts.level_generator)
            self.bad_rows = set(mine["bad_rows"])
        self.last_ckpt, self.saved_step = Path(path), self.pos.global_step
        logger.info("resumed from %s at epoch %d, batch %d, global step %d%s", path, *asdict(self.pos).values(),
                    "" if mine is not None else " (model and optimizer only: the world size or sp_size changed)")

    def save(self) -> Path:
        name = checkpoint_name(self.pos.epoch, self.pos.global_step)
        mine = {"rng": rng_state(self.parts.generator, self.parts.level_generator), "bad_rows": sorted(self.bad_rows)}
        last = f"--load {self.last_ckpt}" if self.last_ckpt else "a new run (no complete checkpoint yet)"
        with disk_errors(self.exp_dir, f"{name}.tmp is incomplete and can be deleted; free space, then resume with "
                                       f"{last}"):
            self.last_ckpt = save_checkpoint(self.exp_dir, name, backend=self.parts.backend, ema=self.ema,
                                             running_state=dict(asdict(self.pos),
                                                                sp_size=get_parallel_groups().sp_size),
                                             rank_state=mine,
                                             keep_last=self.cfg.keep_last)
        self.saved_step = self.pos.global_step
        logger.info("saved checkpoint %s", self.last_ckpt)
        return self.last_ckpt

    # ------------------------------------------------------------------ loop
    def finished(self) -> bool:
        steps_done = self.cfg.max_steps is not None and self.pos.global_step >= self.cfg.max_steps
        return steps_done or self.pos.epoch >= self.cfg.epochs

    def fit(self) -> Path:
        """Train until ``max_steps`` or ``epochs``; return the final checkpoint (saved at the end)."""
        self.parts.backend.module.train()
        self.throughput = Throughput()
        while not self.finished():
            self.run_epoch()
        if self.saved_step != self.pos.global_step:
            self.save()
        return self.last_ckpt

    def run_epoch(self) -> None:
        self.sampler.set_epoch(self.pos.epoch, self.pos.batch)
        for batch in self.loader:
            self.train_step(batch)
            if self.finished():
                return
        self.pos.epoch, self.pos.batch = self.pos.epoch + 1, 0

    def train_step(self, batch: dict) -> float:
        parts = self.parts
        loss, info = compute_loss(parts, batch)
        value = global_mean(loss)
        check_finite(value, self.pos.global_step + 1, self.last_ckpt)
        parts.backend.backward(loss)
        info["lr"] = parts.backend.lr_scheduler.get_last_lr()[0]  # the lr of this step
        grad_norm = step_with_grad_norm(parts.backend)
        update_ema(self.ema, parts.backend.module,
                   ema_decay_at(self.pos.global_step + 1, self.cfg.ema_decay, self.cfg.ema_warmup))
        self.pos.global_step, self.pos.batch = self.pos.global_step + 1, self.pos.batch + 1
        self.bad_rows.update(batch["skipped"])
        self.throughput.add(info["batch_size"] * get_parallel_groups().dp_size)  # distinct samples of the step
        self._losses.append(value)
        self._after_step(info, grad_norm)
        return value

    def _after_step(self, info: dict, grad_norm) -> None:
        step = self.pos.global_step
        if step % self.cfg.log_every == 0:
            self.log(info, grad_norm)
        if self.cfg.ckpt_every > 0 and step % self.cfg.ckpt_every == 0:
            self.save()

    def log(self, info: dict, grad_norm) -> None:
        metrics = {"loss": sum(self._losses) / len(self._losses), "lr": info["lr"], **self.throughput.read(),
                   "epoch": self.pos.epoch, "num_latents": info["num_latents"],
                   "skipped_files": self._count_bad_rows()}
        if grad_norm is not None:
            metrics["grad_norm"] = grad_norm
        if "window" in info:
            metrics["window"] = str(info["window"])
        self._losses = []
        self.monitor.log(self.pos.global_step, metrics)
        logger.info("step %d  epoch %d  loss %.5f  lr %.3g  grad_norm %s  %.3f steps/s  %.2f samples/s  window %s x%d  "
                    "skipped %d", self.pos.global_step, self.pos.epoch, metrics["loss"], metrics["lr"],
                    f"{grad_norm:.4g}" if grad_norm is not None else "-", metrics["steps_per_s"],
                    metrics["samples_per_s"], metrics.get("window", "-"), metrics["num_latents"],
                    metrics["skipped_files"])

    def _count_bad_rows(self) -> int:
        """Distinct unreadable/too-short files skipped so far, over all ranks."""
        if get_world_size() == 1:
            return len(self.bad_rows)
        every = [None] * get_world_size()
        dist.all_gather_object(every, sorted(self.bad_rows))
        return len(set().union(*every))
