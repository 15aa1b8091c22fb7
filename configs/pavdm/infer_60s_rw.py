# Baseline RW (replacement with noise): as RN, but the conditioning chunk is forward-noised to the clip's
# level with fresh noise at every step.
_base_ = ["infer_60s_rn.py"]

schedule = dict(type="rw")
