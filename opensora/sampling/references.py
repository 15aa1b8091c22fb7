"""Reference clips and images to extend: read (first or last frames), resize-crop and VAE-encode.

A reference is conditioned on in whole VAE chunks: the plan's ``num_ref_chunks`` chunks need
``reference_frames`` pixel frames (17 per chunk). An image is a still clip of that many frames.
Pixel tensors are (3, T, H, W) floats in [-1, 1] (the VAE's range).
"""
from __future__ import annotations

import collections
import contextlib
import itertools
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from opensora.datasets.transforms import resize_crop
from opensora.schedulers.plan import ChunkSchedule
from opensora.utils.video_io import VideoReadError, iter_frames

from .geometry import VideoGeometry

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
REFERENCE_SIDES = ("first", "last")


def is_image(path) -> bool:
    return Path(str(path)).suffix.lower() in IMAGE_SUFFIXES


def reference_frames(schedule: ChunkSchedule, geom: VideoGeometry) -> int:
    """Pixel frames of reference the plan needs (its reference latents, in whole VAE chunks)."""
    latents = schedule.num_ref_chunks * schedule.chunk_size
    return -(-latents // geom.chunk_latents) * geom.chunk_frames


def _decode(path, num_frames: int, side: str) -> tuple[list, int]:
    """Up to ``num_frames`` RGB frames from the ``side`` end of ``path``, and how many frames were decoded."""
    try:
        with contextlib.closing(iter_frames(path)) as frames:
            if side == "first":
                keep = list(itertools.islice(frames, num_frames))
                return keep, len(keep)
            keep, count = collections.deque(maxlen=num_frames), 0
            for frame in frames:
                keep.append(frame)
                count += 1
            return list(keep), count
    except VideoReadError as exc:
        raise VideoReadError(f"cannot read reference {path} ({exc}). Pass a readable video (mp4, ...) or image "
                             f"({', '.join(IMAGE_SUFFIXES)})") from exc


def read_reference(path, num_frames: int, size: tuple, side: str = "first") -> torch.Tensor:
    """``num_frames`` frames of a reference clip, resize-cropped to ``size`` = (H, W): (3, T, H, W) in [-1, 1].

    Args:
        side: "first" takes the clip's first frames (the paper's benchmark), "last" its last frames
            (to continue a clip from its end).
        An image (by suffix) is repeated ``num_frames`` times (a still clip), so a single image starts a video.
    Raises:
        VideoReadError if the file is missing or unreadable or a clip has fewer than ``num_frames`` frames.
    """
    if side not in REFERENCE_SIDES:
        raise ValueError(f"reference side {side!r}; use one of {REFERENCE_SIDES}")
    if not Path(str(path)).exists():
        raise VideoReadError(f"reference {path} does not exist (relative paths are resolved from the "
                             f"working directory, then from the prompt file's directory)")
    frames, count = _decode(path, 1 if is_image(path) else num_frames, side)
    if is_image(path) and frames:
        frames = frames * num_frames
    elif count < num_frames:
        raise VideoReadError(f"reference clip {path} has {count} frames, but at least {num_frames} are needed: "
                             f"the plan conditions on whole VAE chunks (a shorter clip encodes to less than one "
                             f"chunk). Use a longer clip, or an image (a still start)")
    return resize_crop(np.stack(frames), size)


def check_references(paths: Sequence[str], schedule: ChunkSchedule, geom: VideoGeometry, side: str) -> None:
    """Fail early (before sampling) on a missing, unreadable or too short reference."""
    frames = reference_frames(schedule, geom)
    for path in dict.fromkeys(paths):
        read_reference(path, frames, geom.image_size, side)


def encode_references(vae, paths: Sequence[str], schedule: ChunkSchedule, geom: VideoGeometry, *, side: str,
                      generators: Sequence[torch.Generator], device) -> Optional[torch.Tensor]:
    """(B, C_z, R C, h, w) reference latents (video b encoded with ``generators[b]``), or None for text only."""
    if schedule.num_ref_chunks == 0:
        return None
    frames = reference_frames(schedule, geom)
    latents = []
    for path, gen in zip(paths, generators):
        x = read_reference(path, frames, geom.image_size, side)
        latents.append(vae.encode(x[None].to(device), generator=gen).float())
    return torch.cat(latents)[:, :, : schedule.num_ref_chunks * schedule.chunk_size]
