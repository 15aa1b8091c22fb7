# AR-Diffusion AD scheduler on the embedded tiny model, in the PA window (68 frames), step difference s = 12
# (PA is AD with s = S / K = 8): 2 chunks active at once, 24 + 84 x 12 = 1032 calls from text.
_base_ = ["infer_60s_tiny.py"]

schedule = dict(_delete_=True, type="ad", window_frames=68, step_difference=12, keep_x0=True)
save_dir = "samples/tiny_ad"
