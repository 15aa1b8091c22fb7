"""Make ColossalAI's LowLevelZero (ZeRO-1/2) and checkpoint I/O run on CPU (gloo).

colossalai 0.5.0 assumes CUDA/NPU streams in a few places (see ../shared/deps-notes.md §3). This patch
gives its ``CpuAccelerator`` no-op streams and synchronisation and drops ZeRO's "cuda or npu" assertion.
It is applied only when no CUDA device exists, once, and changes nothing on GPU machines.
With it, ZeRO-2 parameters after training match DDP's exactly (fp32) and sharded checkpoints round-trip.
"""
from __future__ import annotations

import contextlib

import torch

_APPLIED = False


class _NoStream:
    """Stands in for a device stream/event on CPU, where all work is synchronous."""

    def wait_stream(self, *args, **kwargs):
        pass

    def synchronize(self):
        pass

    def record_event(self, *args, **kwargs):
        return None

    def query(self):
        return True


_NO_STREAM = _NoStream()


def _patch_accelerator() -> None:
    from colossalai.accelerator.cpu_accelerator import CpuAccelerator

    CpuAccelerator.synchronize = lambda self, device=None: None
    CpuAccelerator.Stream = lambda self, *a, **k: _NO_STREAM
    CpuAccelerator.current_stream = lambda self, device=None: _NO_STREAM
    CpuAccelerator.default_stream = lambda self, device=None: _NO_STREAM
    CpuAccelerator.stream = lambda self, s: contextlib.nullcontext()
    CpuAccelerator.empty_cache = lambda self: None
    CpuAccelerator.current_device = lambda self: 0
    CpuAccelerator.device_count = lambda self: 1
    CpuAccelerator.is_bf16_supported = lambda self: True


def _patch_record_stream() -> None:
    original = torch.Tensor.record_stream

    def record_stream(self, stream):
        return None if isinstance(stream, _NoStream) else original(self, stream)

    torch.Tensor.record_stream = record_stream


def _patch_zero_sanity_check() -> None:
    from colossalai.zero.low_level import low_level_optim

    def sanity_checks(self):  # upstream's check minus its "device is cuda or npu" assertion
        for group in self.optim.param_groups:
            for p in group["params"]:
                if not getattr(p, "skip_zero_check", False) and p.dtype != self._dtype:
                    raise TypeError(f"ZeRO parameter dtype {p.dtype} != optimizer dtype {self._dtype}")

    low_level_optim.LowLevelZeroOptimizer._sanity_checks = sanity_checks


def apply_cpu_patch() -> bool:
    """Patch colossalai for CPU if there is no CUDA device; return whether the patch is active."""
    global _APPLIED
    if torch.cuda.is_available():
        return False
    if not _APPLIED:
        _patch_accelerator()
        _patch_record_stream()
        _patch_zero_sanity_check()
        _APPLIED = True
    return True
