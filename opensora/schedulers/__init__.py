"""Noise schedulers and noise-level schedules (pure functions, shared by training and inference)."""
from .fopp import (  # noqa: F401
    fopp_complete,
    fopp_log_counts,
    sample_fopp_compositions,
    sample_fopp_training_levels,
)
from .guidance import cfg_denoiser, cfg_velocity  # noqa: F401
from .noise_schedules import (  # noqa: F401
    ad_inference_schedule,
    ad_step_matrix,
    pa_inference_schedule,
    pa_step_matrix,
    replacement_schedule,
    steps_per_round,
)
from .plan import ChunkSchedule  # noqa: F401
from .rectified_flow import (  # noqa: F401
    NUM_TIMESTEPS,
    RFlow,
    add_noise,
    euler_step,
    masked_mse,
    target,
    timestep_ratio,
    timestep_transform,
    transformed_levels,
)
from .training_levels import (  # noqa: F401
    PAWindow,
    pa_window,
    pa_window_latents,
    pa_window_probs,
    pa_window_types,
    replacement_window_types,
    sample_pa_training_levels,
    sample_pa_window,
)
