# The embedded tiny model family (shipped in checkpoints/tiny/, README: "Embedded tiny model"):
#   STDiT3 (depth 4, hidden 256, MLP ratio 1.5, 6.64 M parameters; trained by train_tiny_w256.py, train_tiny_w256_b.py,
#   train_tiny_pan.py, train_tiny_pan_b.py, then train_tiny_ring.py) on 32 latent channels, the ring pan-coded PCA video
#   VAE (RingPanChunkPCAVideoVAE: the scene's columns on a world-anchored ring canvas plus the pan speed, 17-frame chunk
#   <-> 5 latents x 32 channels; its decoder carries the ring phase from chunk to chunk) and the offline hashed-word
#   text encoder. The earlier stages' chunk-basis VAE is checkpoints/tiny_next/chunk_vae (train_tiny.py).
# {{fileDirname}} is this file's folder, so the shipped weights are found from any working directory.
model = dict(type="STDiT3", from_pretrained="{{fileDirname}}/../../../checkpoints/tiny/stdit3/model.safetensors",
             in_channels=32, input_sq_size=64, depth=4, hidden_size=256, num_heads=4, mlp_ratio=1.5,
             patch_size=(1, 2, 2),
             caption_channels=64, model_max_length=24, grad_ckpt=False)
vae = dict(type="RingPanChunkPCAVideoVAE", from_pretrained="{{fileDirname}}/../../../checkpoints/tiny/vae",
           latent_channels=32, patch_size=8, margin=16)
text_encoder = dict(type="offline_text", dim=64, model_max_length=24)
