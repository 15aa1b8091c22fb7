"""Long-video evaluation: per-2-second-clip metrics over time, PySceneDetect scene count, synthetic ground truth.

CLI: ``python -m tools.eval.evaluate --help``. Library entry points: :func:`evaluate.evaluate_video`,
:func:`evaluate.run`. Metric definitions: :mod:`.frame_metrics`, :mod:`.clips`, :mod:`.ground_truth`.
"""
from .clips import CLIP_METRICS, FrameSeries, clip_bounds, clip_table, measure_frames
from .frame_metrics import color_histogram, cosine, laplacian_variance, phase_shift, to_gray
from .ground_truth import GT_METRICS, GroundTruth, clip_errors, load_ground_truth
from .scenes import detect_cuts

__all__ = ["CLIP_METRICS", "FrameSeries", "GT_METRICS", "GroundTruth", "clip_bounds", "clip_errors", "clip_table",
           "color_histogram", "cosine", "detect_cuts", "laplacian_variance", "load_ground_truth",
           "measure_frames", "phase_shift", "to_gray"]
