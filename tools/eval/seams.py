"""Temporal seams: how much a generated video jumps where its latents, chunks and clips meet.

A long video from a chunked VAE is decoded 17 frames (one chunk, 5 latents) at a time, and inside a chunk
each latent covers its own group of frames (offsets 0 | 1-4 | 5-8 | 9-12 | 13-16). Errors that differ from
latent to latent show up as a jump between the groups (a 6-Hz flicker at 24 fps), errors between separately
generated clips (RN / RW) as a jump at the clip boundary. Notation:

    d[t]        mean |frame_t - frame_{t-1}| over pixels and channels, 0-255 (pair stored at the later frame,
                clips.FrameSeries.frame_diff; d[0] is NaN)
    latent      pairs whose later frame t starts a latent group: t mod chunk_frames in latent_starts, t >= 1
                (chunk boundaries included: offset 0)
    chunk       pairs with t mod chunk_frames == 0
    clip        pairs whose later frame starts a separately generated clip (from the inference sidecar)
    elsewhere   every other pair (inside a latent group): the reference level of ordinary motion

    seam_diff        mean d over latent pairs (the raw boundary value, 0-255)
    seam_ratio       seam_diff / mean d elsewhere (1 = no seam)
    chunk_seam_diff, chunk_seam_ratio    the same over chunk pairs only
    clip_seam_diff, clip_seam_ratio      the same over clip pairs only (NaN without clip boundaries)

The structure comes from the ``seams`` entry of the video's own sidecar (``<video>.json``, written by
``scripts/inference.py``); without one (e.g. ground-truth videos) the Open-Sora VAE structure is assumed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SEAM_METRICS = ("seam_diff", "seam_ratio", "chunk_seam_diff", "chunk_seam_ratio", "clip_seam_diff",
                "clip_seam_ratio")


@dataclass(frozen=True)
class SeamLayout:
    """Where a video can jump: frames per chunk, latent group starts inside a chunk, clip start frames."""

    chunk_frames: int = 17
    latent_starts: tuple = (0, 1, 5, 9, 13)
    clip_start_frames: tuple = field(default_factory=tuple)

    def __post_init__(self):
        if self.chunk_frames < 2:
            raise ValueError(f"chunk_frames={self.chunk_frames} must be >= 2")
        bad = [s for s in self.latent_starts if not 0 <= int(s) < self.chunk_frames]
        if bad:
            raise ValueError(f"latent_starts {bad} lie outside a {self.chunk_frames}-frame chunk")

    def masks(self, num_frames: int) -> dict[str, np.ndarray]:
        """Boolean (num_frames,) masks of the pairs (t-1, t), indexed by t, of each kind."""
        t = np.arange(num_frames)
        offset = t % self.chunk_frames
        valid = t >= 1
        latent = valid & np.isin(offset, np.asarray(self.latent_starts, dtype=np.int64))
        clip = np.zeros(num_frames, dtype=bool)
        starts = [int(s) for s in self.clip_start_frames if 1 <= int(s) < num_frames]
        clip[starts] = True
        return {"latent": latent, "chunk": valid & (offset == 0), "clip": clip, "elsewhere": valid & ~latent & ~clip}


def load_layout(video: Path) -> SeamLayout:
    """The layout recorded in ``video``'s inference sidecar, or the default Open-Sora structure."""
    sidecar = Path(video).with_suffix(".json")
    if not sidecar.is_file():
        return SeamLayout()
    try:
        seams = json.loads(sidecar.read_text()).get("seams")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
        raise ValueError(f"{sidecar}: not a JSON object ({exc}); fix or remove the sidecar") from exc
    if not seams:
        return SeamLayout()
    return SeamLayout(int(seams["chunk_frames"]), tuple(seams["latent_starts"]),
                      tuple(seams.get("clip_start_frames", ())))


def seam_values(frame_diff: np.ndarray, layout: SeamLayout, start: int = 0, stop: int | None = None) -> dict:
    """SEAM_METRICS over the pairs (t-1, t) with start < t < stop (a clip never straddles its own start)."""
    d = np.asarray(frame_diff, dtype=np.float64)
    stop = len(d) if stop is None else stop
    inside = np.zeros(len(d), dtype=bool)
    inside[start + 1:stop] = True
    m = {k: v & inside for k, v in layout.masks(len(d)).items()}
    base = _mean(d[m["elsewhere"]])
    out = {}
    for prefix, key in (("", "latent"), ("chunk_", "chunk"), ("clip_", "clip")):
        value = _mean(d[m[key]])
        out[f"{prefix}seam_diff"] = value
        out[f"{prefix}seam_ratio"] = value / base if base > 0 else float("nan")
    return out


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")
