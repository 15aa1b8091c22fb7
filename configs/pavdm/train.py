# PA-VDM fine-tuning of Open-Sora v1.2 (the paper's PA-M recipe, done properly): 240p, 119-frame windows
# (1 clean context chunk + K = 6 noisy chunks of 5 latents), linear-shift levels with the paper's scale 0.4,
# and every window type inference produces (steady / initialization / termination / text-to-video),
# half of the batches steady. The clean context chunk is masked out of the loss.
#   torchrun --nproc_per_node=8 scripts/train.py configs/pavdm/train.py --data-path data/train.csv
_base_ = ["_base_/opensora_v1_2.py", "_base_/train_runtime.py"]

model = dict(freeze_y_embedder=True, grad_ckpt=True)  # Open-Sora v1.2's fine-tuning settings
text_encoder = dict(dtype="bf16")  # T5 runs in bf16 during training (fp32 at inference)
