# Open-Sora v1.2 networks; the published weights load unchanged (docs: opensora-v1.2-compat.md).
# Shared by inference and training configs; each overrides what differs (dtype, prompt cleaning, freezing).
model = dict(type="STDiT3-XL/2", from_pretrained="hpcai-tech/OpenSora-STDiT-v3", qk_norm=True,
             enable_flash_attn=True, enable_layernorm_kernel=False)
vae = dict(type="OpenSoraVAE_V1_2", from_pretrained="hpcai-tech/OpenSora-VAE-v1.2", micro_batch_size=4)
text_encoder = dict(type="t5", from_pretrained="DeepFloyd/t5-v1_1-xxl", model_max_length=300)
