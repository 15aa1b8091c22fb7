"""The training command line (``scripts/train.py``, ``pavdm-train``): flags -> config -> ``train``.

    torchrun --nproc_per_node=8 scripts/train.py configs/pavdm/train.py --data-path data/train.csv
    torchrun --nproc_per_node=2 scripts/train.py configs/pavdm/train_tiny_cpu.py --data-path data/tiny.csv  # CPU
    ... --load outputs/000-train/epoch0-global_step500      # resume everything, exactly

Every flag below is a shortcut for one config key; ``--cfg-options key=value`` sets any other key.
"""
from __future__ import annotations

import argparse
import sys

from opensora.utils.cli import run_cli
from opensora.utils.config import add_config_args, parse_config

from .runner import train

STOP_HINT = ("continue with --load <the newest epochE-global_stepS folder of the experiment> (checkpoints are "
             "written every ckpt_every steps)")

# flag dest -> config key (Open-Sora's training flags)
FLAG_TO_KEY = {
    "ckpt_path": "model.from_pretrained", "data_path": "dataset.data_path", "outputs": "outputs", "load": "load",
    "batch_size": "batch_size", "lr": "optimizer.lr", "epochs": "epochs", "max_steps": "max_steps", "seed": "seed",
    "num_workers": "num_workers", "warmup_steps": "warmup_steps", "ckpt_every": "ckpt_every",
    "log_every": "log_every", "grad_checkpoint": "model.grad_ckpt", "plugin": "plugin", "dtype": "dtype",
    "wandb": "wandb",
}


def build_parser() -> argparse.ArgumentParser:
    p = add_config_args(argparse.ArgumentParser(description=__doc__,
                                                formatter_class=argparse.RawDescriptionHelpFormatter),
                        "configs/pavdm/train.py", "objective.type=fopp scheduler.num_sampling_steps=30")
    p.add_argument("--ckpt-path", help="initial STDiT3 weights (Hub id, snapshot folder or .safetensors)")
    p.add_argument("--data-path", help="dataset CSV (tools/build_csv.py or tools/extract_features.py)")
    p.add_argument("--outputs", help="folder for experiment folders (outputs/NNN-<config>)")
    p.add_argument("--load", help="training checkpoint folder to resume from (model, EMA, optimizer, data, RNG)")
    p.add_argument("--batch-size", type=int, help="samples per process and step")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", type=int, help="stop after this many global steps")
    p.add_argument("--seed", type=int)
    p.add_argument("--num-workers", type=int, help="DataLoader workers per process")
    p.add_argument("--warmup-steps", type=int)
    p.add_argument("--ckpt-every", type=int, help="save every N steps (and always at the end)")
    p.add_argument("--log-every", type=int)
    p.add_argument("--grad-checkpoint", type=lambda s: s.lower() in ("1", "true", "yes"), metavar="BOOL")
    p.add_argument("--plugin", help="zero2 | ddp (backend colossalai); zero | ddp (backend torch)")
    p.add_argument("--dtype", help="bf16 | fp32")
    p.add_argument("--wandb", action="store_const", const=True, help="also log to Weights & Biases")
    return p


def main(argv=None) -> int:
    """Train; raises ``NonFiniteLossError`` if the loss became NaN or inf (the last good checkpoint is kept)."""
    cfg, _ = parse_config(build_parser(), argv, FLAG_TO_KEY)
    train(cfg)
    return 0


def cli() -> int:
    """``main`` with user errors (no data, bad flags or keys, weights not found, ...) as one-line messages (exit
    code 2), a NaN / inf loss as one line with exit code 1, SIGTERM / Ctrl-C as one line (143 / 130)."""
    return run_cli(main, stop_hint=STOP_HINT)


if __name__ == "__main__":  # python -m opensora.training.cli, torchrun -m opensora.training.cli
    sys.exit(cli())
