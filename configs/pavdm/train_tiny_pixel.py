# Stage 3 of the embedded tiny model (README: "Embedded tiny model"): the stage-2 mix of PA and replacement windows
# (train_tiny_mix.py, 3250 steps), now with the pixel-space loss (opensora/training/losses.py): one unit of decoded
# picture error costs the same in every PCA component (the latent MSE charged the cell's mean colour 200x less than
# its finest component), and the first and last frame of every chunk, where chunk seams are, count 3x.
#   python tools/export_ema.py outputs/tiny_mix/000-train_tiny_mix/epoch120-global_step3250 \
#       --output outputs/tiny_mix/stage2_ema --dtype fp32
#   OMP_NUM_THREADS=1 torchrun --nproc_per_node=2 scripts/train.py configs/pavdm/train_tiny_pixel.py
#   python tools/export_ema.py outputs/tiny_pixel/000-train_tiny_pixel --output outputs/tiny_pixel/export  # not shipped
_base_ = ["train_tiny_mix.py"]

model = dict(from_pretrained="outputs/tiny_mix/stage2_ema")
loss = dict(type="pixel", boundary_frames=1, boundary_weight=3.0)
max_steps = 6000
keep_last = 4
outputs = "outputs/tiny_pixel"
