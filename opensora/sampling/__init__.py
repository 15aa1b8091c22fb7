"""Long-video sampling: the sliding-window sampler over a ChunkSchedule, captions, plans, and the pipeline
(:class:`LongVideoPipeline`: from a config or built networks to streamed chunks or mp4 files)."""
from .pipeline import (ChunkRecord, LongVideoPipeline, Networks, OutputSettings, SamplingSettings,  # noqa: F401
                       VideoSettings)
from .sliding_window import (FinishedChunk, NonFiniteSampleError, SamplerState, SlidingWindowSampler,  # noqa: F401
                             Step, walk)
