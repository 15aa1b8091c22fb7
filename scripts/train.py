#!/usr/bin/env python
"""Fine-tune STDiT3 (Open-Sora v1.2) with per-frame noise levels: PA progressive, FoPP or Open-Sora's.

    torchrun --nproc_per_node=8 scripts/train.py configs/pavdm/train.py --data-path data/train.csv
    torchrun --nproc_per_node=2 scripts/train.py configs/pavdm/train_tiny_cpu.py --data-path data/tiny.csv  # CPU
    ... --load outputs/000-train/epoch0-global_step500      # resume everything, exactly

A thin shell: the flags are in ``opensora.training.cli`` (also the ``pavdm-train`` command) and the run in
``opensora.training.train``.
"""
import sys

from opensora.training.cli import cli

if __name__ == "__main__":
    sys.exit(cli())
