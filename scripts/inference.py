"""Long-video inference (PA-VDM and baselines) with Open-Sora v1.2 weights; see README "Inference".

    python scripts/inference.py configs/pavdm/infer_60s.py --prompt "a red fox runs through snow"
    torchrun --nproc_per_node=8 scripts/inference.py configs/pavdm/infer_60s.py --prompt-path prompts.txt
    python scripts/inference.py configs/pavdm/infer_60s.py --dry-run      # plan.json + heatmap, no weights

A thin shell: flags -> config -> pipeline live in ``opensora.sampling.cli`` (also the ``pavdm-infer`` command);
from Python use ``opensora.sampling.LongVideoPipeline``.
"""
import sys

from opensora.sampling.cli import cli

if __name__ == "__main__":
    sys.exit(cli())
