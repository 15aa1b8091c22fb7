"""Distributed training: backends (ColossalAI ZeRO-2 / torch-native), the ColossalAI CPU patch, checkpoints."""
from .backend import ColossalBackend, TorchBackend, build_backend, build_optimizer  # noqa: F401
from .checkpoint import list_checkpoints, load_checkpoint, prune_checkpoints, save_checkpoint  # noqa: F401
