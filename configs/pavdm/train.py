# PA-VDM fine-tuning of Open-Sora v1.2 (the paper's PA-M recipe, done properly): 240p, 119-frame windows
# (1 clean context chunk + K = 6 noisy chunks of 5 latents), linear-shift levels with scale 0.4,
# every window type inference produces (steady / initialization / termination / text-to-video).
#   torchrun --nproc_per_node=8 scripts/train.py configs/pavdm/train.py --data-path data/train.csv

# ---- networks (Open-Sora v1.2 weights) --------------------------------------------------------------
model = dict(type="STDiT3-XL/2", from_pretrained="hpcai-tech/OpenSora-STDiT-v3", qk_norm=True,
             enable_flash_attn=True, enable_layernorm_kernel=False, freeze_y_embedder=True, grad_ckpt=True)
vae = dict(type="OpenSoraVAE_V1_2", from_pretrained="hpcai-tech/OpenSora-VAE-v1.2", micro_batch_size=4)
text_encoder = dict(type="t5", from_pretrained="DeepFloyd/t5-v1_1-xxl", model_max_length=300, dtype="bf16")
scheduler = dict(type="rflow", use_timestep_transform=True, sample_method="logit-normal", bf16_ratio=True)

# ---- objective: opensora (scalar t) | pa (progressive) | fopp (AR-Diffusion) --------------------------
objective = dict(type="pa", num_steps=30, num_noisy_chunks=6, chunk_size=5, shift="linear-shift",
                 linear_shift_scale=0.4, window_probs=None, keep_x0=True)

# ---- data -------------------------------------------------------------------------------------------
dataset = dict(type="VideoTextDataset", data_path=None, image_size=(240, 426), frame_interval=1)
buckets = [(119, 1.0)]  # (pixel frames, weight) pairs; one length per batch; 119 frames = the full PA window
batch_size = 1  # per process
num_workers = 4

# ---- optimisation -----------------------------------------------------------------------------------
backend = "colossalai"  # colossalai (Booster) | torch (DDP / ZeroRedundancyOptimizer, no colossalai)
plugin = "zero2"  # colossalai: zero2 | ddp;  torch: zero | ddp
dtype = "bf16"
optimizer = dict(lr=1e-4, weight_decay=0.0, eps=1e-15)
warmup_steps = 1000
grad_clip = 1.0
ema_decay = 0.99

# ---- run --------------------------------------------------------------------------------------------
seed = 42
outputs = "outputs"
load = None  # a checkpoint folder to resume from
epochs = 1000
max_steps = None
log_every = 10
ckpt_every = 500
keep_last = 3
tensorboard = True
wandb = False
wandb_project = "pavdm"
