"""Peak memory of tensors created inside a block of code, on any device (CPU included).

CUDA has ``torch.cuda.max_memory_allocated``; the CPU allocator keeps no such counter. :class:`TensorMemoryTracker`
is a ``TorchDispatchMode`` that adds up the storages of every tensor an operator returns while any tensor
using that storage is alive, and records the maximum. Inputs that existed before (weights, the call's
arguments) are not counted, so the figure is the activation peak of the code inside the ``with``. It costs
a Python call per operator: measure in a separate, untimed pass.
"""
from __future__ import annotations

import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class TensorMemoryTracker(TorchDispatchMode):
    """``with TensorMemoryTracker() as mem: ...``; then ``mem.peak`` (bytes) and ``mem.current``."""

    def __init__(self):
        super().__init__()
        self._live: dict[int, list] = {}  # storage address -> [bytes, tensors alive]
        self.current = 0
        self.peak = 0

    def _release(self, key: int) -> None:
        entry = self._live[key]
        entry[1] -= 1
        if entry[1] == 0:
            del self._live[key]
            self.current -= entry[0]

    def _track(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key == 0:  # meta tensors and empty storages hold no memory
            return
        if key in self._live:
            self._live[key][1] += 1
        else:
            self._live[key] = [storage.nbytes(), 1]
            self.current += storage.nbytes()
            self.peak = max(self.peak, self.current)
        weakref.finalize(tensor, self._release, key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for item in tree_flatten(out)[0]:
            if isinstance(item, torch.Tensor):
                self._track(item)
        return out
