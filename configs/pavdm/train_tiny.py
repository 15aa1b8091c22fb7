# Train the first, 128-wide embedded tiny model (shipped until 2026-12-03; README: "Embedded tiny model") on the
# synthetic world, from scratch, on CPU (the base of the tiny training configs: data, levels, runtime):
#   python -m tools.synthetic.generate --out data/synthetic --split train --num-videos 216 --seconds 12 --seed 0
#   python tools/fit_pca_vae.py --vae-type ChunkPCAVideoVAE --latent-channels 32 --max-videos 72 \
#       --data-path data/synthetic/train.csv --eval-path data/synthetic/heldout.csv --out checkpoints/tiny_next/chunk_vae
#   OMP_NUM_THREADS=1 torchrun --nproc_per_node=2 scripts/train.py configs/pavdm/train_tiny.py
#   python tools/export_ema.py outputs/tiny/000-train_tiny --output outputs/tiny/stage1_ema
# PA objective with variable-length windows: 1 clean context chunk + K = 3 noisy chunks (68 frames, 20 latents),
# every window type (steady / initialization / termination / text-to-video), context masked out of the loss.
_base_ = ["_base_/tiny_networks.py", "_base_/train_runtime.py"]

# The first embedded model's network (128 wide, depth 6, shipped until 2026-12-03; train_tiny_mix.py and
# train_tiny_pixel.py fine-tune it). The shipped 256-wide model is train_tiny_w256.py, then train_tiny_w256_b.py.
model = dict(from_pretrained=None, depth=6, hidden_size=128, mlp_ratio=4.0)
# The chunk-basis PCA VAE of stages w256 and w256_b (the shipped VAE of the ring stage is _base_/tiny_networks.py's).
vae = dict(_delete_=True, type="ChunkPCAVideoVAE", from_pretrained="{{fileDirname}}/../../checkpoints/tiny_next/chunk_vae",
           latent_channels=32, patch_size=8)
# Levels (the same in configs/pavdm/infer_60s_tiny*.py; a test checks): no resolution shift (the tiny frames are far
# from Open-Sora's 240p), S = 24 steps over K = 3 noisy chunks, i.e. a chunk shift every m = 8 steps.
scheduler = dict(type="rflow", num_sampling_steps=24, use_timestep_transform=False, bf16_ratio=False,
                 sample_method="uniform")
objective = dict(num_noisy_chunks=3)
dataset = dict(data_path="data/synthetic/train.csv", image_size=(64, 96))
buckets = [(68, 1.0)]
batch_size = 4  # per process: 2 processes (torchrun --nproc_per_node=2) x 4 = 8 windows per step
num_workers = 1

backend = "torch"
plugin = "ddp"
dtype = "fp32"  # bf16 is slower than fp32 on CPU
optimizer = dict(lr=5e-4)
warmup_steps = 100
ema_decay = 0.998
ema_warmup = True  # the EMA of a short run forgets the random init (decay min(0.998, (1 + s) / (10 + s)))
max_steps = 7750
log_every = 50
ckpt_every = 250
keep_last = 2
tensorboard = False
outputs = "outputs/tiny"
