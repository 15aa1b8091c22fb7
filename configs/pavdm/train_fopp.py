# Fine-tuning with AR-Diffusion's FoPP levels: non-decreasing per-chunk step indices over the K = 6 noisy
# chunks of a full 119-frame window (uniform over compositions given one frame's level), clean context chunk.
_base_ = ["train.py"]

objective = dict(_delete_=True, type="fopp", num_noisy_chunks=6, granularity="chunk", keep_x0=True)
