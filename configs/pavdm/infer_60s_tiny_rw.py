# Baseline RW (replacement with noise) on the embedded tiny model: as RN, but the conditioning chunk is
# forward-noised to the clip's level with fresh noise at every step.
_base_ = ["infer_60s_tiny_rn.py"]

schedule = dict(type="rw")
save_dir = "samples/tiny_rw"
