# Baseline RN (Open-Sora loop, replacement without noise) on the embedded tiny model: 68-frame clips (4 chunks,
# the PA window's size), the last 17-frame chunk of each clip is the clean conditioning of the next;
# 28 clips x 24 steps = 672 calls for 60 s.
_base_ = ["infer_60s_tiny.py"]

schedule = dict(_delete_=True, type="rn", clip_frames=68, context_frames=17)
save_dir = "samples/tiny_rn"
