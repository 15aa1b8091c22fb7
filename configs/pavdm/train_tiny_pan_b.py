# Pan stage B of the embedded tiny STDiT3 (issue 10): the pan-coded VAE with the speed in channel 31 of every latent
# (checkpoints/tiny_next/pan_vae, velocity_scale 0.5, 50.5 dB held-out), warm-started from pan stage A's EMA
# (train_tiny_pan.py, 1250 steps, checkpoints/tiny_next/pan_a), the same window mix, fresh AdamW with 100 warm-up
# steps.
#   python tools/fit_pca_vae.py --vae-type PanChunkPCAVideoVAE --latent-channels 32 --max-videos 72 \
#       --data-path data/synthetic/train.csv --eval-path data/synthetic/heldout.csv --out checkpoints/tiny_next/pan_vae
#   OMP_NUM_THREADS=1 torchrun --nproc_per_node=2 scripts/train.py configs/pavdm/train_tiny_pan_b.py
#   python tools/export_ema.py outputs/tiny_pan_b/000-train_tiny_pan_b --output checkpoints/tiny_next/pan_b
_base_ = ["train_tiny_pan.py"]

model = dict(from_pretrained="{{fileDirname}}/../../checkpoints/tiny_next/pan_a/model.safetensors")
max_steps = 3000
outputs = "outputs/tiny_pan_b"
