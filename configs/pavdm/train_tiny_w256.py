# The embedded tiny model, wide variant (issue 10): STDiT3 hidden 256 (was 128), depth 4, MLP ratio 1.5, 6.64 M
# parameters (26.6 MB fp32), on the same 32-channel chunk VAE, trained from scratch on PA windows mixed with the
# replacement baselines' windows (rn:3, rw:4) so that one set of weights also serves RN / RW.
# Why wider: a token is 2 x 2 cells x 32 channels = 128 numbers, as many as the old hidden size; the denoiser must
# carry its noisy input through to cancel the noise, and with no spare width it leaves per-cell noise in its x0
# estimate (the mosaic of the 128-wide model). `python tools/capacity_probe.py <config> --data-path
# data/synthetic/train.csv` (4 clips, 400 steps): train_tiny.py loss 1.00, x0 pixel error 4.6 / 10.1 / 19.9 at
# t = 0.3 / 0.7 / 0.95 (197 s); this config loss 0.68, x0 pixel error 4.0 / 7.6 / 14.1 (249 s).
#   OMP_NUM_THREADS=1 torchrun --nproc_per_node=2 scripts/train.py configs/pavdm/train_tiny_w256.py
#   python tools/export_ema.py outputs/tiny_w256/000-train_tiny_w256 --output checkpoints/tiny_next/w256
# Stage A of the shipped embedded model: run 2750 steps (2026-12-03 05:43-07:31 UTC, launched with max_steps 20000
# and stopped; the lr is constant after warm-up, so max_steps 2750 gives the same weights); stage B is
# train_tiny_w256_b.py.
_base_ = ["train_tiny.py"]

model = dict(hidden_size=256, depth=4, num_heads=4, mlp_ratio=1.5)
objective = dict(window_probs=dict(_delete_=True, steady=0.45, init=0.1, term=0.1, t2v=0.1, rn=0.15, rw=0.1))
max_steps = 2750
outputs = "outputs/tiny_w256"
