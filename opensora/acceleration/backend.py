"""Data-parallel training backends with one small interface.

=================  =================================================================================
``colossalai``     ColossalAI Booster. plugin ``zero2`` (LowLevelZero stage 2, Open-Sora's default) or
                   ``ddp`` (TorchDDPPlugin). On CPU the patch in ``colossal_cpu`` is applied first;
                   HybridAdam is used only on CUDA, torch AdamW otherwise.
``torch``          torch-native: DDP + ``ZeroRedundancyOptimizer(AdamW)`` (``zero=True``) or plain AdamW;
                   bf16 by autocast. Needs no colossalai at all.
=================  =================================================================================

Every backend exposes ``forward(**kwargs)``, ``backward(loss)``, ``step() -> grad norm or None``,
``module`` (the unwrapped network, whose parameters are the full trained weights on every rank),
``lr_scheduler``, and collective ``save(directory)`` / ``load(directory)``.
"""
from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from opensora.utils.ckpt import load_state_dict, load_weights_strict, save_safetensors
from opensora.utils.dist import get_world_size, is_main_process
from opensora.utils.dtype import as_dtype, dtype_name
from opensora.utils.logging import get_logger

from .colossal_cpu import apply_cpu_patch

logger = get_logger(__name__)


def build_optimizer(params, *, lr: float, weight_decay: float = 0.0, eps: float = 1e-8, betas=(0.9, 0.999),
                    hybrid_adam: bool = False) -> torch.optim.Optimizer:
    """AdamW (HybridAdam, ColossalAI's fused Adam, only when asked for and CUDA is present)."""
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (all requires_grad=False); check freezing options")
    if hybrid_adam and torch.cuda.is_available():
        from colossalai.nn.optimizer import HybridAdam  # lazy: builds CUDA kernels

        return HybridAdam(params, lr=lr, weight_decay=weight_decay, eps=eps, betas=tuple(betas), adamw_mode=True)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, eps=eps, betas=tuple(betas))


def warmup_lambda(warmup_steps: int):
    """lr factor min(1, (step + 1) / warmup_steps): linear warm-up, then constant (Open-Sora's LinearWarmupLR)."""
    return WarmupFactor(warmup_steps)


class WarmupFactor:
    """Picklable lr lambda (``LambdaLR`` saves callable objects' ``__dict__`` in its state)."""

    def __init__(self, warmup_steps: int):
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step: int) -> float:
        return 1.0 if self.warmup_steps == 0 else min(1.0, (step + 1) / self.warmup_steps)


class ColossalBackend:
    """ColossalAI Booster with LowLevelZero (``zero2``) or DDP (``ddp``)."""

    def __init__(self, model: nn.Module, optimizer_cfg: dict, warmup_steps: int = 0, *, plugin: str = "zero2",
                 dtype: str = "bf16", grad_clip: float = 0.0, device=None):
        dtype = dtype_name(dtype)  # ColossalAI's precision names are the canonical ones
        with warnings.catch_warnings():  # colossalai's import warns about optional kernels (apex, bitsandbytes)
            warnings.simplefilter("ignore")
            from colossalai.booster import Booster
        apply_cpu_patch()
        _ensure_process_group()
        self.grad_clip, self.plugin_name = float(grad_clip or 0.0), plugin
        optimizer = build_optimizer(model.parameters(), hybrid_adam=True, **optimizer_cfg)
        lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_lambda(warmup_steps))
        self.booster = Booster(plugin=self._plugin(plugin, dtype))
        model = model.to(device) if device is not None else model
        self.model, self.optimizer, _, _, self.lr_scheduler = self.booster.boost(
            model, optimizer, lr_scheduler=lr_scheduler)

    def _plugin(self, name: str, dtype: str):
        from colossalai.booster.plugin import LowLevelZeroPlugin, TorchDDPPlugin

        if name == "zero2":
            return LowLevelZeroPlugin(stage=2, precision=dtype, initial_scale=2**16, max_norm=self.grad_clip)
        if name == "ddp":
            if dtype != "fp32":
                raise ValueError(f"plugin 'ddp' trains in fp32; got dtype={dtype!r}: use plugin='zero2' for bf16")
            return TorchDDPPlugin()
        raise ValueError(f"plugin={name!r}; use 'zero2' (ZeRO-2) or 'ddp' with backend='colossalai'")

    @property
    def module(self) -> nn.Module:
        return self.model.unwrap()

    def forward(self, **kwargs):
        return self.model(**kwargs)

    def backward(self, loss: torch.Tensor) -> None:
        self.booster.backward(loss, self.optimizer)

    def step(self):
        if self.plugin_name == "ddp" and self.grad_clip > 0:
            self.optimizer.clip_grad_by_norm(self.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.lr_scheduler.step()
        return None

    def save(self, directory: Path) -> None:
        with _quiet_logs():
            self.booster.save_model(self.model, str(directory / "model"), shard=True)
            self.booster.save_optimizer(self.optimizer, str(directory / "optimizer"), shard=True)
            self.booster.save_lr_scheduler(self.lr_scheduler, str(directory / "lr_scheduler.pt"))

    def load(self, directory: Path) -> None:
        with _quiet_logs():
            self.booster.load_model(self.model, str(directory / "model"))
            self.booster.load_optimizer(self.optimizer, str(directory / "optimizer"))
            self.booster.load_lr_scheduler(self.lr_scheduler, str(directory / "lr_scheduler.pt"))


@contextlib.contextmanager
def _quiet_logs():
    """ColossalAI logs every shard file at INFO (through the root logger too); keep only warnings."""
    loggers = [logging.getLogger(), logging.getLogger("colossalai")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.level, logging.WARNING))
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _ensure_process_group() -> None:
    """ColossalAI plugins need a process group even for one process (plain ``python``, no torchrun)."""
    import torch.distributed as dist

    if dist.is_initialized():
        return
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo",
                            init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)


class TorchBackend:
    """torch-native data parallelism: DDP (world > 1) + ZeroRedundancyOptimizer or AdamW, bf16 by autocast."""

    def __init__(self, model: nn.Module, optimizer_cfg: dict, warmup_steps: int = 0, *, zero: bool = True,
                 dtype: str = "fp32", grad_clip: float = 0.0, device=None):
        self.grad_clip, self.dtype = float(grad_clip or 0.0), as_dtype(dtype)
        self.module = model.to(device) if device is not None else model
        self.distributed = get_world_size() > 1
        self.zero = bool(zero) and self.distributed
        self.model = self._wrap(self.module, device)
        self.optimizer = self._optimizer(optimizer_cfg)
        self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, warmup_lambda(warmup_steps))

    def _wrap(self, module, device):
        if not self.distributed:
            return module
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device is not None and device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids)

    def _optimizer(self, cfg: dict):
        if not self.zero:
            return build_optimizer(self.module.parameters(), **cfg)
        from torch.distributed.optim import ZeroRedundancyOptimizer

        params = [p for p in self.module.parameters() if p.requires_grad]
        return ZeroRedundancyOptimizer(params, optimizer_class=torch.optim.AdamW, lr=cfg["lr"],
                                       weight_decay=cfg.get("weight_decay", 0.0), eps=cfg.get("eps", 1e-8),
                                       betas=tuple(cfg.get("betas", (0.9, 0.999))))

    def forward(self, **kwargs):
        device_type = next(self.module.parameters()).device.type
        use_amp = self.dtype != torch.float32
        ctx = torch.autocast(device_type, dtype=self.dtype) if use_amp else contextlib.nullcontext()
        with ctx:
            return self.model(**kwargs)

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def step(self):
        norm = None
        if self.grad_clip > 0:
            norm = float(torch.nn.utils.clip_grad_norm_(self.module.parameters(), self.grad_clip))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.lr_scheduler.step()
        return norm

    def save(self, directory: Path) -> None:
        if self.zero:
            self.optimizer.consolidate_state_dict(to=0)  # collective
        if is_main_process():
            save_safetensors(self.module, directory / "model.safetensors")
            torch.save(self.optimizer.state_dict(), directory / "optimizer.pt")
            torch.save(self.lr_scheduler.state_dict(), directory / "lr_scheduler.pt")

    def load(self, directory: Path) -> None:
        load_weights_strict(self.module, load_state_dict(directory / "model.safetensors"))
        self.optimizer.load_state_dict(torch.load(directory / "optimizer.pt", weights_only=True))
        self.lr_scheduler.load_state_dict(torch.load(directory / "lr_scheduler.pt", weights_only=True))


def build_backend(model: nn.Module, *, backend: str, optimizer: dict, warmup_steps: int, plugin: str,
                  dtype: str, grad_clip: float, device=None):
    """Wrap ``model`` for training. ``backend``: 'colossalai' (plugin 'zero2' | 'ddp') or 'torch'
    (plugin 'zero' = ZeroRedundancyOptimizer | 'ddp')."""
    if backend == "colossalai":
        return ColossalBackend(model, dict(optimizer), warmup_steps, plugin=plugin, dtype=dtype,
                               grad_clip=grad_clip, device=device)
    if backend == "torch":
        if plugin not in ("zero", "ddp"):
            raise ValueError(f"plugin={plugin!r} with backend='torch'; use 'zero' or 'ddp'")
        return TorchBackend(model, dict(optimizer), warmup_steps, zero=plugin == "zero", dtype=dtype,
                            grad_clip=grad_clip, device=device)
    raise ValueError(f"backend={backend!r}; use 'colossalai' (ZeRO-2 via Booster) or 'torch' (DDP, no colossalai)")
