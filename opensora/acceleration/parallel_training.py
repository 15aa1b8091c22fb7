"""Training under data x sequence parallelism: what a step shares, splits and reduces.

One training step with D data-parallel groups of K sequence-parallel ranks (``parallel_states``):

1. **Data.** Batches are sharded over the D groups, not over the W ranks (:func:`sampler_shard`): the K
   ranks of a group load the same batch.
2. **Randomness.** The levels, the noise, the VAE posterior sample and the caption dropout must be equal
   within a group: seed every generator with ``parallel_states.group_seed`` (``seed + dp_rank``), or
   make the drawn tensors equal with :func:`broadcast_in_group`. (STDiT3 already broadcasts its random
   caption dropout within the group.)
3. **Forward / backward.** The model splits the tokens internally and returns the full prediction on every
   rank, so the loss (and its logging) is computed as without SP.
4. **Reduce.** After ``backward`` the mean of a parameter's gradient over the SP group is its exact
   gradient (convention in ``communications``). Averaging over **all W ranks** therefore gives the mean
   over the D groups, which is what the existing backends already do: DDP + ZeroRedundancyOptimizer
   (``TorchBackend``) and ColossalAI's LowLevelZero ZeRO-2 (``ColossalBackend``) reduce over the world,
   and their optimizer states are then sharded over all W ranks (Open-Sora's ``zero2-seq`` plugin does the
   same). A custom loop whose reducer spans only the DP ranks calls :func:`average_gradients` over the SP
   group before the optimizer step.
5. **Checkpoints.** Weights and optimizer states do not depend on K: a checkpoint saved under one
   ``sp_size`` loads under another (only the data order of a resumed run changes with D).
"""
from __future__ import annotations

from typing import Iterable, Optional

import torch
import torch.distributed as dist

from .parallel_states import ParallelGroups, get_parallel_groups


def sampler_shard(groups: Optional[ParallelGroups] = None) -> dict:
    """``num_replicas`` and ``rank`` for a ``DistributedSampler``: one data shard per DP group."""
    groups = groups or get_parallel_groups()
    return dict(num_replicas=groups.dp_size, rank=groups.dp_rank)


def broadcast_in_group(tensors: dict, groups: Optional[ParallelGroups] = None) -> dict:
    """Make ``tensors`` (name -> tensor, same shapes on every rank) equal to the SP group's first rank's.

    In place; bool tensors travel as uint8 (gloo has no bool). Returns the dict for chaining.
    """
    groups = groups or get_parallel_groups()
    if groups.sp_group is None:
        return tensors
    for name in sorted(tensors):
        value = tensors[name]
        wire = value.to(torch.uint8) if value.dtype == torch.bool else value
        dist.broadcast(wire, src=groups.sp_src, group=groups.sp_group)
        if wire is not value:
            value.copy_(wire.bool())
    return tensors


def average_gradients(params: Iterable[torch.nn.Parameter], group: Optional[dist.ProcessGroup]) -> None:
    """All-reduce every ``.grad`` to its mean over ``group`` (no-op for None or a one-rank group).

    Gradients are flattened into one buffer per dtype, so this is one collective per dtype.
    """
    if group is None or dist.get_world_size(group) == 1:
        return
    size = dist.get_world_size(group)
    by_dtype: dict = {}
    for p in params:
        if p.grad is not None:
            by_dtype.setdefault(p.grad.dtype, []).append(p.grad)
    for grads in by_dtype.values():
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, group=group)
        flat /= size
        offset = 0
        for g in grads:
            g.copy_(flat[offset: offset + g.numel()].view_as(g))
            offset += g.numel()
