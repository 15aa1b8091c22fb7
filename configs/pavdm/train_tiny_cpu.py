# Tiny random-weight networks on CPU (smoke tests, CI): the full training path in seconds.
#   torchrun --nproc_per_node=2 scripts/train.py configs/pavdm/train_tiny_cpu.py --data-path data/tiny.csv
# Windows: 1 context + K = 2 noisy chunks of 5 latents = 15 latents = 51 frames, at 32 x 48 pixels.
_base_ = ["_base_/tiny_cpu_networks.py", "_base_/train_runtime.py"]

model = dict(grad_ckpt=True)
scheduler = dict(num_sampling_steps=4, bf16_ratio=False)  # S = 4 levels for the objective (K = 2 divides it)
objective = dict(num_noisy_chunks=2)

dataset = dict(image_size=(32, 48))
buckets = [(51, 1.0)]
batch_size = 2
num_workers = 0

dtype = "fp32"  # bf16 is slower than fp32 on CPU
optimizer = dict(lr=1e-3)
warmup_steps = 2
ckpt_every = 2
log_every = 1
keep_last = 2
tensorboard = False
