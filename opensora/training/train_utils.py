"""Training helpers: EMA, RNG state capture/restore, the non-finite-loss guard, and throughput."""
from __future__ import annotations

import copy
import math
import time

import torch
from torch import nn


def create_ema(model: nn.Module) -> nn.Module:
    """An fp32, frozen, eval-mode copy of ``model`` (call before the model is cast or wrapped)."""
    ema = copy.deepcopy(model).to(torch.float32).eval()
    ema.requires_grad_(False)
    return ema


def ema_decay_at(step: int, decay: float, warmup: bool) -> float:
    """The EMA decay used after optimizer step ``step`` (1-based).

    Without warm-up it is ``decay``. With warm-up it is ``min(decay, (1 + step) / (10 + step))``: early on the
    EMA averages roughly the last tenth of training instead of holding on to the random initialisation (at
    decay 0.998 and no warm-up, 37 % of the EMA is still the init after 500 steps).
    """
    if step < 1:
        raise ValueError(f"ema step must be >= 1 (the number of optimizer steps taken), got {step}")
    return min(decay, (1.0 + step) / (10.0 + step)) if warmup else decay


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema = decay * ema + (1 - decay) * model, for every trainable parameter (computed in fp32).

    ``model`` holds the full weights on every rank (its working copy: bf16 under ZeRO-2 bf16), so the
    EMA is identical on all ranks and only rank 0 needs to save it.
    """
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"ema decay must be in [0, 1], got {decay}")
    params = dict(model.named_parameters())
    for name, p_ema in ema.named_parameters():
        p = params.get(name)
        if p is None:
            raise KeyError(f"EMA parameter {name!r} is not in the model; build the EMA from the same model")
        if p.requires_grad:
            p_ema.mul_(decay).add_(p.detach().to(p_ema.device, torch.float32), alpha=1.0 - decay)


def rng_state(*generators: torch.Generator) -> dict:
    """Everything random in a training step: torch's global RNG (CPU and CUDA) and the step's generators."""
    state = {"torch": torch.get_rng_state(), "generators": [g.get_state() for g in generators]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict, *generators: torch.Generator) -> None:
    if len(state["generators"]) != len(generators):
        raise ValueError(f"the RNG state holds {len(state['generators'])} generators, got {len(generators)}")
    torch.set_rng_state(state["torch"])
    for gen, saved in zip(generators, state["generators"]):
        gen.set_state(saved)
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or inf; training stops without touching the last good checkpoint."""


def check_finite(loss: float, step: int, last_checkpoint) -> None:
    """Raise :class:`NonFiniteLossError` with what to do if ``loss`` is NaN or inf."""
    if math.isfinite(loss):
        return
    where = f"the last good checkpoint is {last_checkpoint}" if last_checkpoint else "no checkpoint was saved yet"
    raise NonFiniteLossError(
        f"loss is {loss} at global step {step}; stopping before the optimizer step ({where}). "
        "Lower --lr, raise warmup_steps, set grad_clip, or check the data; resume with --load <checkpoint>.")


class Throughput:
    """Steps/s and samples/s over the steps since the last ``read``."""

    def __init__(self):
        self._t0, self._steps, self._samples = time.perf_counter(), 0, 0

    def add(self, samples: int) -> None:
        self._steps += 1
        self._samples += samples

    def read(self) -> dict:
        dt = max(time.perf_counter() - self._t0, 1e-9)
        out = {"steps_per_s": self._steps / dt, "samples_per_s": self._samples / dt}
        self.__init__()
        return out
