# Stage B of the 256-wide tiny STDiT3, the shipped embedded model (checkpoints/tiny/stdit3): warm start from the
# EMA of stage A (train_tiny_w256.py from scratch, step 2750, committed as checkpoints/tiny_next/w256, since a new
# session's machine keeps only what git holds), fresh AdamW with 100 warm-up steps.
# Why the new window mix: stage A's mix (t2v 0.1 over 3 types, 0.033 each) starved the text-only start. At step
# 2000 its one-call x0 estimate of a lone chunk from text was 12.9 px (0-255) at t = 0.95 but 72-80 at t = 0.999 and
# 1.0 (the first, 128-wide model: 8.2 at t = 0.95, 9.4 at t = 1.0), and its PA text-to-video came out grey
# (palette error 90.8); the 128-wide model's stage 1 drew each t2v type with probability 0.071. Here t2v gets 0.25
# (0.083 each).
#   OMP_NUM_THREADS=1 torchrun --nproc_per_node=2 scripts/train.py configs/pavdm/train_tiny_w256_b.py
#   python tools/export_ema.py outputs/tiny_w256_b/001-train_tiny_w256_b --output checkpoints/tiny/stdit3
# Run: 3750 steps (500, then --load of the step-500 checkpoint for 3250 more), 0.31-0.52 steps/s; loss 0.73 at step
# 500, 0.69 at 1850, 0.62 at 3700. Its step-3750 EMA is shipped as checkpoints/tiny/stdit3 (a copy, stage C's
# start, in checkpoints/tiny_next/w256_b): one-call x0 error 6.5 / 8.1 at t = 0.95 / 1.0 (the first, 128-wide
# model: 8.9 / 9.6), text-to-video palette error 5.9 (not grey any more).
_base_ = ["train_tiny_w256.py"]

model = dict(from_pretrained="{{fileDirname}}/../../checkpoints/tiny_next/w256/model.safetensors")
objective = dict(window_probs=dict(_delete_=True, steady=0.35, init=0.1, term=0.1, t2v=0.25, rn=0.1, rw=0.1))
ema_warmup = False  # the EMA starts from stage A's EMA, nothing random to forget
max_steps = 3750  # the run was launched with 20000 and stopped after step 3750
outputs = "outputs/tiny_w256_b"
