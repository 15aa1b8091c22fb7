# Baseline RN (Open-Sora loop, replacement without noise): 51-frame clips (15 latents), the last 17-frame chunk
# of each clip is the clean conditioning of the next; 42 clips x 30 steps = 1260 calls for 60 s.
_base_ = ["infer_60s.py"]

schedule = dict(_delete_=True, type="rn", clip_frames=51, context_frames=17)
