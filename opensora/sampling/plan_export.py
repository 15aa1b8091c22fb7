"""Dry-run output: the plan as ``plan.json``, a heatmap PNG and a one-paragraph cost summary.

``plan.json`` (levels in Open-Sora units, after the timestep transform, rounded to 4 decimals)::

    {"num_latents": N, "num_frames": F_kept, "calls": [
        {"timesteps": [per-latent level of each window latent, context zeros included],
         "emitted": [absolute latent indices finalised by this call],
         "window": [first latent, one past the last latent]}, ...],
     "num_calls": I, "reference_latents": [...], "frames_generated": ..., "fps": ..., "schedule": {...},
     "cost": {...}}   (only after ``add_cost``: FLOPs per call and in total, memory per rank, weights)
"""
from __future__ import annotations

import json
from pathlib import Path

from opensora.schedulers.plan import ChunkSchedule

from .geometry import VideoGeometry
from .sliding_window import latent_index, walk


def _latents(chunks, chunk_size: int) -> list:
    return latent_index(chunks, chunk_size).tolist()


def plan_record(schedule: ChunkSchedule, geom: VideoGeometry) -> dict:
    """The plan as a JSON-ready dict (see the module docstring); timesteps are those of sample 0."""
    c = schedule.chunk_size
    calls = []
    for step in walk(schedule):
        t = schedule.window_timesteps(step.index, 1)[0]
        first = step.window[0] * c
        calls.append({"timesteps": [round(float(x), 4) for x in t], "emitted": _latents(step.emitted, c),
                      "window": [first, first + len(step.window) * c]})
    return {"num_latents": schedule.num_latents, "num_frames": geom.frames_kept, "calls": calls,
            "num_calls": len(calls), "reference_latents": _latents(schedule.initially_done(), c),
            "frames_generated": geom.frames_generated, "fps": geom.fps, "chunk_size": c,
            "schedule": {"name": schedule.name, "context_mode": schedule.context_mode,
                         "num_context": schedule.num_context, "num_ref_chunks": schedule.num_ref_chunks,
                         **{k: v for k, v in schedule.meta.items() if isinstance(v, (int, float, str, bool))}}}


def add_cost(record: dict, cfg, geom: VideoGeometry, sp_size: int | None = None) -> str:
    """Add the ``cost`` section (``opensora.acceleration.cost_model.dry_run_cost``) and return its printout.

    ``cfg``: the run config (model / vae / text_encoder / dtype / batch_size, optional sp_size and
    text_encoder_offload); nothing is loaded, the networks are sized on the meta device.
    """
    from opensora.acceleration.cost_model import dry_run_cost, format_cost

    record["cost"] = dry_run_cost(cfg, record, geom, sp_size=sp_size)
    return format_cost(record["cost"])


def write_plan_json(record: dict, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, separators=(",", ":")))
    return path


def plot_plan(record: dict, path) -> Path:
    """Heatmap of the level of every latent (columns) at every model call (rows); blank = not in the window."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    grid = np.full((max(1, record["num_calls"]), record["num_latents"]), np.nan)
    for row, call in enumerate(record["calls"]):
        grid[row, call["window"][0]:call["window"][1]] = call["timesteps"]
    fig, ax = plt.subplots(figsize=(10, 6))
    image = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis", vmin=0, vmax=1000)
    ax.set_xlabel("latent index")
    ax.set_ylabel("model call")
    ax.set_title(f"{record['schedule']['name']}: {record['num_calls']} calls, {record['num_latents']} latents")
    fig.colorbar(image, ax=ax, label="level t (1000 = noise)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def summary(record: dict) -> str:
    """One line with the cost of the plan (model calls, window latents) and the output length."""
    sizes = [len(c["timesteps"]) for c in record["calls"]]
    total = sum(sizes)
    seconds = record["num_frames"] / record["fps"]
    return (f"plan {record['schedule']['name']}: {record['num_calls']} model calls (each a CFG batch of 2), "
            f"window {min(sizes, default=0)}..{max(sizes, default=0)} latents, {total} latent-frames in total "
            f"({2 * total} with CFG); {record['num_latents']} latents -> {record['frames_generated']} frames, "
            f"{record['num_frames']} kept ({seconds:.2f} s at {record['fps']} fps)")
