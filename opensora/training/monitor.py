"""Training metrics: the log, ``metrics.jsonl``, TensorBoard (default) and Weights & Biases (optional).

Only rank 0 writes. wandb is imported only when enabled.
"""
from __future__ import annotations

import json
from pathlib import Path

from opensora.utils.dist import is_main_process
from opensora.utils.logging import get_logger

logger = get_logger(__name__)


class Monitor:
    """``log(step, metrics)`` fans out to every enabled sink; ``close()`` flushes them."""

    def __init__(self, exp_dir, *, tensorboard: bool = True, wandb: bool = False, wandb_project: str = "pavdm",
                 run_name: str | None = None, config: dict | None = None):
        self.active = is_main_process()
        self.jsonl = Path(exp_dir) / "metrics.jsonl" if self.active else None
        self.tb = self._tensorboard(exp_dir) if self.active and tensorboard else None
        self.wandb = self._wandb(wandb_project, run_name, config, exp_dir) if self.active and wandb else None

    @staticmethod
    def _tensorboard(exp_dir):
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(Path(exp_dir) / "tensorboard"))

    @staticmethod
    def _wandb(project, name, config, exp_dir):
        try:
            import wandb
        except ImportError as exc:
            raise ImportError("wandb=True needs the wandb package: pip install wandb (or set wandb=False)") from exc
        return wandb.init(project=project, name=name, config=config, dir=str(exp_dir))

    def log(self, step: int, metrics: dict) -> None:
        if not self.active:
            return
        scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        with open(self.jsonl, "a") as f:
            f.write(json.dumps({"step": step, **metrics}) + "\n")
        if self.tb is not None:
            for key, value in scalars.items():
                self.tb.add_scalar(f"train/{key}", value, step)
        if self.wandb is not None:
            self.wandb.log(scalars, step=step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()
