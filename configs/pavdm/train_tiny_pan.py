# The embedded tiny STDiT3 on the pan-coded VAE (issue 10): PanChunkPCAVideoVAE (checkpoints/tiny_next/pan_vae,
# the chunk basis on a pan-compensated canvas plus one latent number for the chunk's horizontal speed; 50.6 dB
# held-out PSNR against the chunk basis' 36.9) instead of ChunkPCAVideoVAE, warm-started from the stage-B EMA
# (shipped in checkpoints/tiny/stdit3 before the ring stage; a copy is checkpoints/tiny_next/w256_b). The canvas basis keeps components 0..158 in the chunk basis' places and
# the speed takes the last number (slot 4, channel 31), so the old weights start from latents of the same layout.
# The same window mix and optimiser as stage B, fresh AdamW with 100 warm-up steps.
# Run (pan stage A): 1250 steps, 2026-12-04 17:58-18:33 UTC, 0.62-0.76 steps/s, loss 0.67 at step 50, 0.52 at 500,
# 0.49 at 1250; its EMA is checkpoints/tiny_next/pan_a. It ran at commit f3b7dfc, whose VAE stored the speed once per
# cell (slot 4, channel 31, velocity_scale 1.0): the model learnt that number slowly (one-call x0 estimate of the
# speed at step 750: 0.91 x the truth at t = 0.1, 0.55 x at t = 0.5; generated pans 0.2-0.4 px/frame whatever the
# prompt said), so the VAE now repeats it in channel 31 of every latent at velocity_scale 0.5 (20x the loss weight)
# and stage B (train_tiny_pan_b.py) continues from this EMA. To rerun this stage exactly, check out f3b7dfc.
#   python tools/fit_pca_vae.py --vae-type PanChunkPCAVideoVAE --latent-channels 32 --max-videos 72 \
#       --data-path data/synthetic/train.csv --eval-path data/synthetic/heldout.csv --out checkpoints/tiny_next/pan_vae
#   OMP_NUM_THREADS=1 torchrun --nproc_per_node=2 scripts/train.py configs/pavdm/train_tiny_pan.py
#   python tools/export_ema.py outputs/tiny_pan/000-train_tiny_pan --output checkpoints/tiny_next/pan_a
_base_ = ["train_tiny_w256_b.py"]

model = dict(from_pretrained="{{fileDirname}}/../../checkpoints/tiny_next/w256_b/model.safetensors")
vae = dict(_delete_=True, type="PanChunkPCAVideoVAE",
           from_pretrained="{{fileDirname}}/../../checkpoints/tiny_next/pan_vae", latent_channels=32, patch_size=8,
           margin=16)
max_steps = 1250
outputs = "outputs/tiny_pan"
