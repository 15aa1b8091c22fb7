# The 60-s PA plan with tiny random-weight networks on CPU (tests, smoke runs; no downloads):
#   python scripts/inference.py configs/pavdm/infer_tiny_cpu.py --prompt "a fox" --num-frames 15s
_base_ = ["_base_/tiny_cpu_networks.py", "_base_/pavdm_60s.py", "_base_/infer_runtime.py"]

image_size = (32, 48)
scheduler = dict(bf16_ratio=False)
dtype = "fp32"
save_dir = "samples/tiny"
