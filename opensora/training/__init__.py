"""Training: objectives (noise levels per batch), the step, the loop with EMA / checkpoints / resume, metrics."""
