# Training runtime shared by every configs/pavdm/train*.py: PA objective, data, optimisation, checkpoints.
# Flags of scripts/train.py override these keys (e.g. --lr -> optimizer.lr, --data-path -> dataset.data_path).

# same level transform as inference (Open-Sora's shift with the bf16-rounded ratio r = 3.6875 at 240p/119)
scheduler = dict(type="rflow", num_sampling_steps=30, use_timestep_transform=True, sample_method="logit-normal",
                 bf16_ratio=True)
# objective: opensora (scalar t) | pa (progressive) | fopp (AR-Diffusion); see opensora/training/objectives.py.
# Its step count S is the scheduler's num_sampling_steps and its chunk size the VAE's (5 latents).
objective = dict(type="pa", num_noisy_chunks=6, shift="linear-shift", linear_shift_scale=0.4, window_probs=None,
                 keep_x0=True)
# loss on the velocity error: latent (Open-Sora's MSE) | pixel (decoded through a linear VAE, boundary_frames /
# boundary_weight weigh the frames at chunk ends); see opensora/training/losses.py.
loss = dict(type="latent")

# ---- data -------------------------------------------------------------------------------------------
dataset = dict(type="VideoTextDataset", data_path=None, image_size=(240, 426), frame_interval=1)
buckets = [(119, 1.0)]  # (pixel frames, weight); one length per batch; 119 frames = the full PA window
batch_size = 1  # per process
num_workers = 4

# ---- optimisation -----------------------------------------------------------------------------------
backend = "colossalai"  # colossalai (Booster) | torch (DDP / ZeroRedundancyOptimizer, no colossalai)
plugin = "zero2"  # colossalai: zero2 | ddp;  torch: zero | ddp
sp_size = 1  # ranks per sequence-parallel group: batches are sharded over world / sp_size groups (README)
dtype = "bf16"  # model weights (ZeRO-2 keeps fp32 masters) and VAE
optimizer = dict(lr=1e-4, weight_decay=0.0, eps=1e-15)
warmup_steps = 1000
grad_clip = 1.0
ema_decay = 0.99
ema_warmup = False  # True: decay min(ema_decay, (1 + step) / (10 + step)) so the EMA forgets the init

# ---- run --------------------------------------------------------------------------------------------
seed = 42
outputs = "outputs"
load = None  # a checkpoint folder to resume from (outputs/NNN-train/epochE-global_stepS)
epochs = 1000
max_steps = None
log_every = 10
ckpt_every = 500
keep_last = 3
tensorboard = True
wandb = False
wandb_project = "pavdm"
