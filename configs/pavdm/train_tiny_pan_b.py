# Pan stage B of the embedded tiny STDiT3 (issue 10): the pan-coded VAE with the speed in channel 31 of every latent
# (checkpoints/tiny_next/pan_vae, velocity_scale 0.5, 50.5 dB held-out), warm-started from pan stage A's EMA
# (train_tiny_pan.py, 1250 steps, checkpoints/tiny_next/pan_a), the same window mix, fresh AdamW with 100 warm-up
# steps.
#   python tools/fit_pca_vae.py --vae-type PanChunkPCAVideoVAE --latent-channels 32 --max-videos 72 \
#       --data-path data/synthetic/train.csv --eval-path data/synthetic/heldout.csv --out checkpoints/tiny_next/pan_vae
#   OMP_NUM_THREADS=1 torchrun --nproc_per_node=2 scripts/train.py configs/pavdm/train_tiny_pan_b.py
#   python tools/export_ema.py outputs/tiny_pan_b/000-train_tiny_pan_b --output checkpoints/tiny_next/pan_b
# Run: 2500 steps, 2026-12-04 18:34-19:45 UTC, 0.58-0.68 steps/s (probes ran beside it); loss 0.545 at step 50, 0.49
# at 500, 0.47 at 1000-1500, 0.45 at 2500. Its step-2500 EMA is checkpoints/tiny_next/pan_b (not shipped: each
# chunk pans at the prompted speed within 0.01-0.08 px/frame, but the chunk seam is 11.1-11.2 against the shipped
# model's 7.9; README, "Status").
_base_ = ["train_tiny_pan.py"]

model = dict(from_pretrained="{{fileDirname}}/../../checkpoints/tiny_next/pan_a/model.safetensors")
max_steps = 2500  # launched with 3000, stopped after step 2500
outputs = "outputs/tiny_pan_b"
