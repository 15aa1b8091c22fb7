"""Noise schedulers and noise-level schedules (pure functions, shared by training and inference)."""
from .plan import ChunkSchedule  # noqa: F401
