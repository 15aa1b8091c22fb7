# AR-Diffusion AD scheduler in the 119-frame window, step difference s = 6 (5 chunks active at once):
# 30 + 84 * 6 = 534 calls from text (PA is AD with s = S / K = 5).
_base_ = ["infer_60s.py"]

schedule = dict(_delete_=True, type="ad", window_frames=119, step_difference=6, keep_x0=True)
