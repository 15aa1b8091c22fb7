# Inference runtime: prompts, output, precision. Flags of scripts/inference.py override these keys.
prompt = None  # list of prompt entries: "text", "text||clip.mp4", "a|0| b|20|" (README: Inference)
prompt_path = None  # a prompt file, one entry per line
reference_path = None  # clip(s) or image(s) to extend; one for all prompts or one per prompt
reference_side = "first"  # use the first or the "last" frames of a reference clip
num_sample = 1  # videos per prompt (video j gets seed + j)
batch_size = 1  # videos sampled together (all text-only or all with a reference)
seed = 42
dtype = "bf16"  # model and VAE precision: bf16 | fp32 (latents and Euler steps are fp32 either way)
fps = 24
whole_seconds = True  # keep a whole number of seconds: 1445 generated frames -> 1440 written
save_dir = "samples/pavdm"
save_state_every = 1  # emitted chunks between resume-state saves (--resume continues from the last one)
crf = 18  # x264 quality of the mp4s
save_latents = False  # also write <name>.latents.pt (B=1, 4, N, h, w) per video
progress = True  # tqdm bar on rank 0: model calls done / total, ETA, latent window
sp_size = 1  # ranks per sequence-parallel group (torchrun --nproc_per_node=N, N a multiple of sp_size; README)
text_encoder_offload = False  # encode every prompt up front, then free the text encoder for the sampling phase
