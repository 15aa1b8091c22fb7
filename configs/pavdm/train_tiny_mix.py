# Stage 2 of the embedded tiny model (README: "Embedded tiny model"): fine-tune the stage-1 EMA (train_tiny.py,
# step 7750) on PA windows mixed with the replacement baselines' windows (rn:3 = clean context + 3 chunks at one
# level, rw:4 = 4 chunks at one level), so that one set of weights serves PA, AD and a fair RN / RW comparison,
# and every level of the chunk right after the clean context is trained.
#   python tools/export_ema.py outputs/tiny/000-train_tiny --output outputs/tiny/stage1_ema   # stage 1's EMA
#   OMP_NUM_THREADS=1 torchrun --nproc_per_node=2 scripts/train.py configs/pavdm/train_tiny_mix.py
#   python tools/export_ema.py outputs/tiny_mix/000-train_tiny_mix --output outputs/tiny_mix/export  # not shipped
_base_ = ["train_tiny.py"]

model = dict(from_pretrained="outputs/tiny/stage1_ema")
objective = dict(window_probs=dict(_delete_=True, steady=0.4, init=0.1, term=0.1, t2v=0.1, rn=0.2, rw=0.1))
optimizer = dict(lr=2.5e-4)
warmup_steps = 50
ema_warmup = False  # the EMA starts from the stage-1 weights, nothing random to forget
max_steps = 4000
outputs = "outputs/tiny_mix"
