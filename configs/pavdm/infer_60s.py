# 60-s PA-VDM long video with the Open-Sora v1.2 weights (training-free PA-O-base):
#   python scripts/inference.py configs/pavdm/infer_60s.py --prompt "a red fox runs through snow"
#   torchrun --nproc_per_node=8 scripts/inference.py configs/pavdm/infer_60s.py --prompt-path prompts.txt
#   python scripts/inference.py configs/pavdm/infer_60s.py --dry-run   (plan.json + heatmap, no weights)
_base_ = ["_base_/opensora_v1_2.py", "_base_/pavdm_60s.py", "_base_/infer_runtime.py"]

text_encoder = dict(dtype="fp32", clean_prompts=True, aes=6.5)  # Open-Sora inference prompt preprocessing
