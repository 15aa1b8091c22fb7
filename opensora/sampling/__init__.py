"""Long-video sampling: the sliding-window sampler over a ChunkSchedule, captions, plans, streaming output."""
from .sliding_window import FinishedChunk, SamplerState, SlidingWindowSampler, Step, walk  # noqa: F401
