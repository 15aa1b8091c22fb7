"""Training: objectives (noise levels per batch), the step, the loop with EMA / checkpoints / resume, metrics,
and ``train(config, **overrides)``, the composition root that ``scripts/train.py`` runs."""
from .runner import train  # noqa: F401
