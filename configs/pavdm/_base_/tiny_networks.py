# The embedded tiny model family (shipped in checkpoints/tiny/, README: "Embedded tiny model"):
#   STDiT3 (depth 4, hidden 256, MLP ratio 1.5, 6.64 M parameters; trained by train_tiny_w256.py then
#   train_tiny_w256_b.py) on 32 latent channels, the chunk-basis PCA video VAE (one basis
#   per 8 x 8 px cell over the whole 17-frame chunk <-> 5 latents x 32 channels, 36.9 dB held-out PSNR on the synthetic
#   world) and the offline hashed-word text encoder.
# {{fileDirname}} is this file's folder, so the shipped weights are found from any working directory.
model = dict(type="STDiT3", from_pretrained="{{fileDirname}}/../../../checkpoints/tiny/stdit3/model.safetensors",
             in_channels=32, input_sq_size=64, depth=4, hidden_size=256, num_heads=4, mlp_ratio=1.5,
             patch_size=(1, 2, 2),
             caption_channels=64, model_max_length=24, grad_ckpt=False)
vae = dict(type="ChunkPCAVideoVAE", from_pretrained="{{fileDirname}}/../../../checkpoints/tiny/vae", latent_channels=32,
           patch_size=8)
text_encoder = dict(type="offline_text", dim=64, model_max_length=24)
