# AR-Diffusion's FoPP objective with the tiny random-weight CPU networks (tests, smoke runs; seconds):
#   python scripts/train.py configs/pavdm/train_tiny_fopp_cpu.py --data-path data/tiny.csv --max-steps 4
# FoPP levels over the K = 2 noisy chunks of the 51-frame window, clean context chunk (as train_fopp.py).
_base_ = ["train_tiny_cpu.py"]

objective = dict(_delete_=True, type="fopp", num_noisy_chunks=2, granularity="chunk", keep_x0=True)
