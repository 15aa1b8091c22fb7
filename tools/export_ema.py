#!/usr/bin/env python
"""Export the EMA weights of a training checkpoint as an inference snapshot folder.

    python tools/export_ema.py outputs/000-train --output weights/pavdm-ema [--dtype bf16]

SOURCE is a checkpoint folder (``.../epoch0-global_step500``) or an experiment folder (its newest complete
checkpoint is used). The output holds ``model.safetensors`` and ``config.json``; pass the folder (or the
file) to ``scripts/inference.py --ckpt-path`` or ``STDiT3.from_pretrained``. bf16 halves the size
(2.4 GB for XL/2); the model is built in fp32 and the weights are upcast on loading.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from opensora.acceleration.checkpoint import list_checkpoints
from opensora.utils.ckpt import load_state_dict, save_safetensors
from opensora.utils.cli import run_cli
from opensora.utils.dtype import DTYPES, as_dtype


def find_ema(source: Path) -> Path:
    """``source``'s EMA folder (a checkpoint, or the newest checkpoint of an experiment folder)."""
    if (source / "ema" / "model.safetensors").is_file():
        return source / "ema"
    ckpts = list_checkpoints(source)
    if not ckpts:
        raise FileNotFoundError(f"{source} is neither a training checkpoint (no ema/model.safetensors) nor an experiment "
                         "folder with complete checkpoints (epochE-global_stepS/)")
    return ckpts[-1] / "ema"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", type=Path, help="checkpoint folder or experiment folder")
    p.add_argument("--output", type=Path, required=True, help="folder to write model.safetensors + config.json")
    p.add_argument("--dtype", default="fp32", choices=sorted(DTYPES))
    args = p.parse_args(argv)
    ema = find_ema(args.source)
    weights = {k: v.to(as_dtype(args.dtype)) if v.is_floating_point() else v
               for k, v in load_state_dict(ema / "model.safetensors").items()}
    path = save_safetensors(weights, args.output / "model.safetensors",
                            metadata={"format": "pt", "content": "ema", "source": str(ema)})
    if (ema / "config.json").is_file():
        shutil.copy(ema / "config.json", args.output / "config.json")
    print(f"wrote {path} ({len(weights)} tensors, {args.dtype}) from {ema}; "
          f"use: scripts/inference.py <config> --ckpt-path {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
