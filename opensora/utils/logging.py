"""Rank-aware logging: real handlers on rank 0, warnings only elsewhere."""
from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

_FORMAT = "[%(asctime)s %(levelname)s %(name)s] %(message)s"


# third-party noise printed on every run, ``--help`` included: bitsandbytes (imported by diffusers) logs a
# warning about an optional CPU kernel; ColossalAI calls deprecated torch.distributed collectives
_QUIET_LOGGERS = ("bitsandbytes",)


def quiet_third_party_loggers() -> None:
    """Raise the known noisy third-party loggers to ERROR (idempotent; done on importing ``opensora``)."""
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def quiet_third_party() -> None:
    """Silence known third-party noise that is not about the user's run (idempotent)."""
    quiet_third_party_loggers()
    warnings.filterwarnings("ignore", category=FutureWarning, message=r"`torch\.distributed\.\w+` is deprecated")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"colossalai(\.|$)")


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)


def setup_logging(rank: int = 0, log_dir=None, level: int = logging.INFO) -> logging.Logger:
    """Configure the ``opensora`` logger tree (and the root logger for scripts).

    Rank 0 logs ``level`` to stderr and, with ``log_dir``, to ``log_dir/log.txt``; other ranks log warnings.
    """
    quiet_third_party()
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
        if isinstance(h, logging.FileHandler):
            h.close()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if rank == 0 and log_dir is not None:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(Path(log_dir) / "log.txt"))
    fmt = logging.Formatter(_FORMAT if rank == 0 else f"[rank{rank}] " + _FORMAT, "%H:%M:%S")
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)
    root.setLevel(level if rank == 0 else logging.WARNING)
    return logging.getLogger("opensora")
