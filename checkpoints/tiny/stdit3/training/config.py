backend = 'torch'
batch_size = 4
buckets = [
    (
        68,
        1.0,
    ),
]
ckpt_every = 250
dataset = dict(
    data_path='data/synthetic/train.csv',
    frame_interval=1,
    image_size=(
        64,
        96,
    ),
    type='VideoTextDataset')
dtype = 'fp32'
ema_decay = 0.998
ema_warmup = False
epochs = 1000
grad_clip = 1.0
keep_last = 2
load = None
log_every = 50
loss = dict(type='latent')
max_steps = 2500
model = dict(
    caption_channels=64,
    depth=4,
    from_pretrained=
    '/work/main/configs/pavdm/../../checkpoints/tiny_next/pan_b/model.safetensors',
    grad_ckpt=False,
    hidden_size=256,
    in_channels=32,
    input_sq_size=64,
    mlp_ratio=1.5,
    model_max_length=24,
    num_heads=4,
    patch_size=(
        1,
        2,
        2,
    ),
    type='STDiT3')
num_workers = 1
objective = dict(
    keep_x0=True,
    linear_shift_scale=0.4,
    num_noisy_chunks=3,
    shift='linear-shift',
    type='pa',
    window_probs=dict(
        init=0.1, rn=0.1, rw=0.1, steady=0.35, t2v=0.25, term=0.1))
optimizer = dict(eps=1e-15, lr=0.0005, weight_decay=0.0)
outputs = 'outputs/tiny_ring'
plugin = 'ddp'
scheduler = dict(
    bf16_ratio=False,
    num_sampling_steps=24,
    sample_method='uniform',
    type='rflow',
    use_timestep_transform=False)
seed = 42
sp_size = 1
tensorboard = False
text_encoder = dict(dim=64, model_max_length=24, type='offline_text')
vae = dict(
    from_pretrained=
    '/work/main/configs/pavdm/../../checkpoints/tiny_next/ring_vae',
    latent_channels=32,
    margin=16,
    patch_size=8,
    random_phase=True,
    type='RingPanChunkPCAVideoVAE')
wandb = False
wandb_project = 'pavdm'
warmup_steps = 100
