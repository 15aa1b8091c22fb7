# Ring stage of the embedded tiny STDiT3 (issue 10): RingPanChunkPCAVideoVAE (checkpoints/tiny_next/ring_vae, the
# pan-coded VAE on a world-anchored ring canvas; its basis is pan_vae's, so every latent channel keeps pan stage B's
# meaning), the first chunk of every training window at a random ring phase, warm-started from pan stage B's EMA
# (checkpoints/tiny_next/pan_b), the same window mix, fresh AdamW with 100 warm-up steps. Why: pan stage B's model
# copies its clean context chunk in place (its chunks replay the same stretch of the world and jump back about
# 17 v px at every chunk boundary); on the ring an in-place copy continues the scene (README, "Status").
#   python tools/fit_pca_vae.py --vae-type RingPanChunkPCAVideoVAE --latent-channels 32 \
#       --basis-from checkpoints/tiny_next/pan_vae --max-videos 72 --data-path data/synthetic/train.csv \
#       --eval-path data/synthetic/heldout.csv --out checkpoints/tiny_next/ring_vae
#   OMP_NUM_THREADS=1 torchrun --nproc_per_node=2 scripts/train.py configs/pavdm/train_tiny_ring.py
#   python tools/export_ema.py outputs/tiny_ring/000-train_tiny_ring --output checkpoints/tiny_next/ring
_base_ = ["train_tiny_pan_b.py"]

model = dict(from_pretrained="{{fileDirname}}/../../checkpoints/tiny_next/pan_b/model.safetensors")
vae = dict(_delete_=True, type="RingPanChunkPCAVideoVAE",
           from_pretrained="{{fileDirname}}/../../checkpoints/tiny_next/ring_vae", latent_channels=32, patch_size=8,
           margin=16, random_phase=True)
max_steps = 2500
outputs = "outputs/tiny_ring"
