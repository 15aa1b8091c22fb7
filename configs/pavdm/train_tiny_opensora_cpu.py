# Open-Sora v1.2's standard objective with the tiny random-weight CPU networks (tests, smoke runs; seconds):
#   python scripts/train.py configs/pavdm/train_tiny_opensora_cpu.py --data-path data/tiny.csv --max-steps 4
# One logit-normal t per clip, every latent in the loss (as train_opensora.py), 17- or 51-frame clips.
_base_ = ["train_tiny_cpu.py"]

objective = dict(_delete_=True, type="opensora")
buckets = [(17, 1.0), (51, 1.0)]
