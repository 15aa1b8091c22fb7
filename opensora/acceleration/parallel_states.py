"""Data-parallel x sequence-parallel process groups: the one piece of global state of the package.

Notation
========
W   world size (all processes); K = ``sp_size`` ranks per sequence-parallel (SP) group;
D   = W / K data-parallel (DP) groups. Global rank r has coordinates (dp_rank, sp_rank) = (r // K, r % K).

* The K ranks of one SP group are **contiguous** (ranks d K .. d K + K - 1), so with K <= GPUs per node an SP
  group never leaves a node and its all-to-alls run over NVLink (Open-Sora's (dp, sp) mesh has the same order).
* The ranks with the same sp_rank form a DP group (strided: sp_rank, sp_rank + K, ...).
* Every rank of an SP group holds the same parameters and works on the same samples: prompts and training
  batches are sharded over the D groups (:func:`data_parallel_shard`), and one rank per group
  (:func:`is_group_writer`) writes its outputs.

Use::

    groups = init_parallel_groups(sp_size)        # collective: every rank calls it, once
    model = build(..., enable_sequence_parallelism=groups.sp_size > 1)
    my_prompts = data_parallel_shard(prompts, groups)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch.distributed as dist

from opensora.utils.dist import shard

_GROUPS: Optional["ParallelGroups"] = None


@dataclass(frozen=True)
class ParallelLayout:
    """Which global ranks form which group; pure arithmetic, no processes needed."""

    world_size: int
    sp_size: int

    @property
    def dp_size(self) -> int:
        return self.world_size // self.sp_size

    def coordinates(self, rank: int) -> tuple[int, int]:
        """(dp_rank, sp_rank) of global ``rank``."""
        return rank // self.sp_size, rank % self.sp_size

    def sp_ranks(self, dp_rank: int) -> list[int]:
        """The global ranks of SP group ``dp_rank`` (contiguous)."""
        return list(range(dp_rank * self.sp_size, (dp_rank + 1) * self.sp_size))

    def dp_ranks(self, sp_rank: int) -> list[int]:
        """The global ranks of the DP group of SP position ``sp_rank`` (strided by K)."""
        return list(range(sp_rank, self.world_size, self.sp_size))


def parallel_layout(world_size: int, sp_size: int) -> ParallelLayout:
    """The D x K layout; ValueError (naming the values and the fix) if K does not divide W."""
    if sp_size < 1 or world_size < 1:
        raise ValueError(f"sp_size {sp_size} and world size {world_size} must be >= 1")
    if world_size % sp_size:
        divisors = [k for k in range(1, world_size + 1) if world_size % k == 0]
        raise ValueError(f"sp_size {sp_size} does not divide the world size {world_size}; use one of {divisors} "
                         f"(or launch a multiple of {sp_size} processes)")
    return ParallelLayout(world_size, sp_size)


@dataclass(frozen=True)
class ParallelGroups:
    """This rank's place in the layout and its two process groups (None when the group is this rank alone)."""

    layout: ParallelLayout
    rank: int
    dp_group: Optional[dist.ProcessGroup]
    sp_group: Optional[dist.ProcessGroup]

    @property
    def sp_size(self) -> int:
        return self.layout.sp_size

    @property
    def dp_size(self) -> int:
        return self.layout.dp_size

    @property
    def dp_rank(self) -> int:
        return self.layout.coordinates(self.rank)[0]

    @property
    def sp_rank(self) -> int:
        return self.layout.coordinates(self.rank)[1]

    @property
    def sp_src(self) -> int:
        """Global rank of this SP group's first member (the writer; the source of broadcasts)."""
        return self.dp_rank * self.sp_size


def check_sp_size(sp_size, world_size: Optional[int], num_heads: Optional[int] = None, *,
                  command: str = "SCRIPT") -> None:
    """The checks of a ``sp_size`` config key before any group or network is made (ValueError, one line each).

    In order: an integer >= 1; a divisor of the model's ``num_heads`` (heads are split over the group); more
    than one process when K > 1 (``command`` is named in the torchrun hint); a divisor of ``world_size``.
    ``world_size=None`` (a dry run, which plans for K ranks from one process) skips the last two.
    """
    if not isinstance(sp_size, int) or isinstance(sp_size, bool) or sp_size < 1:
        raise ValueError(f"sp_size={sp_size!r} must be an integer >= 1 (ranks per sequence-parallel group), "
                         f"e.g. sp_size=1")
    if num_heads is not None and num_heads % sp_size:
        valid = [k for k in range(1, num_heads + 1) if num_heads % k == 0]
        raise ValueError(f"sp_size={sp_size} does not divide the model's num_heads={num_heads}: sequence "
                         f"parallelism splits the attention heads over the group; use sp_size in {valid}")
    if world_size is None:
        return
    if sp_size > 1 and world_size == 1:
        raise ValueError(f"sp_size={sp_size} needs {sp_size} processes per group, but this is a single process; "
                         f"launch it with torchrun --nproc_per_node={sp_size} (or a multiple of {sp_size}) "
                         f"{command} ..., or set sp_size=1")
    parallel_layout(world_size, sp_size)


def check_sp_config(sp_size, model_cfg: dict, world_size: Optional[int], command: str) -> None:
    """:func:`check_sp_size` for a run config: the model's ``num_heads`` comes from its config, built on the
    meta device (no weights are read) only when ``sp_size`` > 1."""
    heads = None
    if isinstance(sp_size, int) and not isinstance(sp_size, bool) and sp_size > 1:
        from .cost_model import build_on_meta

        heads = getattr(getattr(build_on_meta(dict(model_cfg)), "config", None), "num_heads", None)
    check_sp_size(sp_size, world_size, heads, command=command)


def broadcast_from_writer(fn, groups: Optional[ParallelGroups] = None):
    """``fn()`` run on the group writer only; its result (or its exception) on every rank of the SP group.

    For decisions that must be identical within a group and read files the writer owns (resume / skip):
    an exception on the writer is raised on every rank instead of leaving the others waiting.
    """
    groups = groups or get_parallel_groups()
    if groups.sp_group is None:
        return fn()
    box = [None]
    if is_group_writer(groups):
        try:
            box[0] = ("ok", fn())
        except Exception as err:  # noqa: BLE001 - re-raised on every rank below
            box[0] = ("error", err)
    dist.broadcast_object_list(box, src=groups.sp_src, group=groups.sp_group)
    kind, value = box[0]
    if kind == "error":
        raise value
    return value


def init_parallel_groups(sp_size: int = 1) -> ParallelGroups:
    """Create and register the DP and SP groups (collective: every rank calls it with the same ``sp_size``).

    Without an initialised process group this is the single-process layout (W = 1). Calling it again
    replaces the registered groups (the old ones are destroyed).
    """
    global _GROUPS
    destroy_parallel_groups()
    if not isinstance(sp_size, int) or isinstance(sp_size, bool):
        raise ValueError(f"sp_size={sp_size!r} must be an integer >= 1")
    if not (dist.is_available() and dist.is_initialized()):
        layout, rank = parallel_layout(1, sp_size), 0
        _GROUPS = ParallelGroups(layout, rank, None, None)
        return _GROUPS
    layout, rank = parallel_layout(dist.get_world_size(), sp_size), dist.get_rank()
    dp_rank, sp_rank = layout.coordinates(rank)
    mine = {}
    # new_group is collective over the whole world: every rank creates every group, in the same order
    for d in range(layout.dp_size):
        group = dist.new_group(layout.sp_ranks(d))
        if d == dp_rank:
            mine["sp"] = group
    for s in range(layout.sp_size):
        group = dist.new_group(layout.dp_ranks(s))
        if s == sp_rank:
            mine["dp"] = group
    _GROUPS = ParallelGroups(layout, rank, mine["dp"] if layout.dp_size > 1 else None,
                             mine["sp"] if layout.sp_size > 1 else None)
    return _GROUPS


def get_parallel_groups() -> ParallelGroups:
    """The registered groups, or the single-group layout of the current world (sp_size 1) if none were made."""
    if _GROUPS is not None:
        return _GROUPS
    initialized = dist.is_available() and dist.is_initialized()
    world, rank = (dist.get_world_size(), dist.get_rank()) if initialized else (1, 0)
    return ParallelGroups(parallel_layout(world, 1), rank, dist.group.WORLD if world > 1 else None, None)


def get_sequence_parallel_group() -> Optional[dist.ProcessGroup]:
    """The SP group of this rank, or None (no sequence parallelism)."""
    return _GROUPS.sp_group if _GROUPS is not None else None


def destroy_parallel_groups() -> None:
    """Forget (and destroy) the registered groups."""
    global _GROUPS
    if _GROUPS is not None and dist.is_available() and dist.is_initialized():
        for group in {_GROUPS.dp_group, _GROUPS.sp_group} - {None}:
            dist.destroy_process_group(group)
    _GROUPS = None


def data_parallel_shard(items, groups: Optional[ParallelGroups] = None) -> list:
    """Round-robin share of ``items`` for this rank's DP group; all K ranks of an SP group get the same share."""
    groups = groups or get_parallel_groups()
    return shard(items, groups.dp_rank, groups.dp_size)


def sequence_parallel_model_config(model_cfg: dict, sp_size: int) -> dict:
    """``model_cfg`` with ``enable_sequence_parallelism=True`` when ``sp_size`` > 1 (the model then splits each
    frame's tokens over the registered sequence-parallel group); unchanged otherwise."""
    return dict(model_cfg, enable_sequence_parallelism=True) if sp_size > 1 else dict(model_cfg)


def is_group_writer(groups: Optional[ParallelGroups] = None) -> bool:
    """True on the one rank per SP group that writes the group's outputs (sp_rank 0)."""
    return (groups or get_parallel_groups()).sp_rank == 0


def group_seed(seed: int, groups: Optional[ParallelGroups] = None) -> int:
    """A seed shared by the ranks of one SP group and different between DP groups: ``seed + dp_rank``.

    The ranks of an SP group must draw identical noise, levels and caption dropout (they compute one sample
    together); with sp_size 1 this is ``seed + rank``, the usual per-rank seed.
    """
    return seed + (groups or get_parallel_groups()).dp_rank
