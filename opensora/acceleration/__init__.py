"""Distributed running: data x sequence-parallel process groups, training backends (ColossalAI ZeRO-2 /
torch-native), the ColossalAI CPU patch, checkpoints. Sequence-parallel
layers: ``opensora.models.layers.sequence_parallel``."""
from .backend import ColossalBackend, TorchBackend, build_backend, build_optimizer  # noqa: F401
from .checkpoint import list_checkpoints, load_checkpoint, prune_checkpoints, save_checkpoint  # noqa: F401
from .parallel_states import (  # noqa: F401
    ParallelGroups,
    data_parallel_shard,
    get_parallel_groups,
    get_sequence_parallel_group,
    group_seed,
    init_parallel_groups,
    is_group_writer,
    parallel_layout,
)
