# Tiny random-weight networks with the real interfaces (CPU tests, smoke runs): STDiT3 depth 1 / hidden 32,
# the tiny VAE (same 17-frame <-> 5-latent chunking) and the offline hashed-word text encoder. No downloads.
model = dict(type="STDiT3", from_pretrained=None, depth=1, hidden_size=32, num_heads=2, patch_size=(1, 2, 2),
             caption_channels=16, model_max_length=8)
vae = dict(type="OpenSoraVAE_V1_2-tiny", from_pretrained=None, micro_batch_size=None)
text_encoder = dict(type="offline_text", dim=16, model_max_length=8)
