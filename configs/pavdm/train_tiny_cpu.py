# A tiny random-weight model on CPU (smoke tests, CI): the full training path in seconds.
#   torchrun --nproc_per_node=2 scripts/train.py configs/pavdm/train_tiny_cpu.py --data-path data/tiny.csv
# Windows: 1 context + K = 2 noisy chunks of 5 latents = 15 latents = 51 frames at 32x48 pixels.
_base_ = ["train.py"]

model = dict(_delete_=True, type="STDiT3", from_pretrained=None, depth=1, hidden_size=32, num_heads=2,
             patch_size=(1, 2, 2), caption_channels=16, model_max_length=8, grad_ckpt=True)
vae = dict(_delete_=True, type="OpenSoraVAE_V1_2-tiny", from_pretrained=None, micro_batch_size=None)
text_encoder = dict(_delete_=True, type="offline_text", dim=16, model_max_length=8)
scheduler = dict(bf16_ratio=False)
objective = dict(num_steps=4, num_noisy_chunks=2)

dataset = dict(image_size=(32, 48))
buckets = [(51, 1.0)]
batch_size = 2
num_workers = 0

plugin = "zero2"
dtype = "fp32"
optimizer = dict(lr=1e-3)
warmup_steps = 2
ckpt_every = 2
log_every = 1
keep_last = 2
tensorboard = False
