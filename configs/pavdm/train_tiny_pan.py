# The embedded tiny STDiT3 on the pan-coded VAE (issue 10): PanChunkPCAVideoVAE (checkpoints/tiny_next/pan_vae,
# the chunk basis on a pan-compensated canvas plus one latent number for the chunk's horizontal speed; 50.6 dB
# held-out PSNR against the chunk basis' 36.9) instead of ChunkPCAVideoVAE, warm-started from the stage-B EMA
# (checkpoints/tiny/stdit3 before this run). The canvas basis keeps components 0..158 in the chunk basis' places and
# the speed takes the last number (slot 4, channel 31), so the old weights start from latents of the same layout.
# The same window mix and optimiser as stage B, fresh AdamW with 100 warm-up steps.
#   python tools/fit_pca_vae.py --vae-type PanChunkPCAVideoVAE --latent-channels 32 --max-videos 72 \
#       --data-path data/synthetic/train.csv --eval-path data/synthetic/heldout.csv --out checkpoints/tiny_next/pan_vae
#   OMP_NUM_THREADS=1 torchrun --nproc_per_node=2 scripts/train.py configs/pavdm/train_tiny_pan.py
#   python tools/export_ema.py outputs/tiny_pan/000-train_tiny_pan --output checkpoints/tiny_next/pan
_base_ = ["train_tiny_w256_b.py"]

model = dict(from_pretrained="{{fileDirname}}/../../checkpoints/tiny_next/w256_b/model.safetensors")
vae = dict(_delete_=True, type="PanChunkPCAVideoVAE",
           from_pretrained="{{fileDirname}}/../../checkpoints/tiny_next/pan_vae", latent_channels=32, patch_size=8,
           margin=16)
max_steps = 3000
outputs = "outputs/tiny_pan"
