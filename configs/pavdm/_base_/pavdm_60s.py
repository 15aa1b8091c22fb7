# The paper's 60-s PA setting (PA-O-base with the Open-Sora v1.2 weights): 240p 9:16, 119-frame window
# (1 clean context chunk + K = 6 noisy chunks of C = 5 latents), 30 steps (a shift every m = 5 steps),
# CFG 7.0, keep_x0, variable-length initialization / termination (fixed_start=False); 85 chunks = 1445 frames
# -> 1440 kept.
num_frames = 1445  # pixel frames (or seconds, e.g. "60s"); rounded up to whole 17-frame chunks
resolution = "240p"
aspect_ratio = "9:16"  # H:W, Open-Sora's names -> 240 x 426
image_size = None  # (H, W) overrides resolution / aspect_ratio
scheduler = dict(type="rflow", num_sampling_steps=30, use_timestep_transform=True, bf16_ratio=True)
cfg_scale = 7.0
schedule = dict(type="pa", window_frames=119, keep_x0=True, fixed_start=False)
