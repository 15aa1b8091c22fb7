# Ring stage of the embedded tiny STDiT3 (issue 10): RingPanChunkPCAVideoVAE (checkpoints/tiny/vae, the shipped VAE, the
# pan-coded VAE on a world-anchored ring canvas; its basis is pan_vae's, so every latent channel keeps pan stage B's
# meaning), the first chunk of every training window at a random ring phase, warm-started from pan stage B's EMA
# (checkpoints/tiny_next/pan_b), the same window mix, fresh AdamW with 100 warm-up steps. Why: pan stage B's model
# copies its clean context chunk in place (its chunks replay the same stretch of the world and jump back about
# 17 v px at every chunk boundary); on the ring an in-place copy continues the scene (README, "Status").
#   python tools/fit_pca_vae.py --vae-type RingPanChunkPCAVideoVAE --latent-channels 32 \
#       --basis-from checkpoints/tiny_next/pan_vae --max-videos 72 --data-path data/synthetic/train.csv \
#       --eval-path data/synthetic/heldout.csv --out checkpoints/tiny/vae
#   OMP_NUM_THREADS=1 torchrun --nproc_per_node=2 scripts/train.py configs/pavdm/train_tiny_ring.py
#   python tools/export_ema.py outputs/tiny_ring/000-train_tiny_ring --output checkpoints/tiny/stdit3
# Run: 2500 steps, 2026-12-04 21:30-22:34 UTC, 0.49-0.75 steps/s (probes ran beside it); loss 0.474 at step 50, 0.408
# at 1000, 0.375 at 2000, 0.362 at 2500 (pan stage B ended at 0.45). Its step-2500 EMA is the shipped checkpoints/tiny/stdit3.
# A first ring version coded the phase in two latent channels (the model had not learnt them after 1000 steps, see
# RingPanChunkPCAVideoVAE); this run is the second, with the phase carried by the decoder.
_base_ = ["train_tiny_pan_b.py"]

model = dict(from_pretrained="{{fileDirname}}/../../checkpoints/tiny_next/pan_b/model.safetensors")
vae = dict(_delete_=True, type="RingPanChunkPCAVideoVAE",
           from_pretrained="{{fileDirname}}/../../checkpoints/tiny/vae", latent_channels=32, patch_size=8,
           margin=16, random_phase=True)
max_steps = 2500
outputs = "outputs/tiny_ring"
