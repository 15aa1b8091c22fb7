# Open-Sora v1.2's standard objective (the baseline): one logit-normal t per clip, shifted with the clip's
# own ratio, every latent in the loss. Clips of 51 or 119 frames, one length per batch.
_base_ = ["train.py"]

objective = dict(_delete_=True, type="opensora")
buckets = [(51, 1.0), (119, 1.0)]
