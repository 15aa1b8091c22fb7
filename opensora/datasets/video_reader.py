"""Reading video files with PyAV: metadata probes and frame ranges.

Frames come back as uint8 arrays of shape (T, H, W, 3), RGB. Any failure to open or decode a file raises
:class:`VideoReadError` (one exception type, so datasets can skip bad files without swallowing bugs).
"""
from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np


class VideoReadError(RuntimeError):
    """A video could not be opened or decoded, or holds fewer frames than requested."""


@dataclass(frozen=True)
class VideoInfo:
    num_frames: int
    height: int
    width: int
    fps: float


def _open(path):
    try:
        return av.open(str(path))
    except Exception as exc:  # PyAV raises many error types (FileNotFound, InvalidData, ...)
        raise VideoReadError(f"cannot open video {path}: {type(exc).__name__}: {exc}") from exc


def _count_frames(container) -> int:
    container.seek(0)
    return sum(1 for _ in container.decode(video=0))


def probe_video(path, exact: bool = False) -> VideoInfo:
    """Frame count, size and fps of ``path``.

    The frame count comes from the container header; with ``exact=True`` (or when the header has none)
    every frame is decoded and counted.
    """
    with _open(path) as container:
        if not container.streams.video:
            raise VideoReadError(f"{path} has no video stream")
        stream = container.streams.video[0]
        try:
            num = stream.frames if (stream.frames and not exact) else _count_frames(container)
        except Exception as exc:
            raise VideoReadError(f"cannot decode video {path}: {type(exc).__name__}: {exc}") from exc
        fps = float(stream.average_rate) if stream.average_rate else 0.0
        return VideoInfo(int(num), int(stream.height), int(stream.width), fps)


def _decode_range(container, start: int, num: int) -> list[np.ndarray]:
    frames = []
    for i, frame in enumerate(container.decode(video=0)):
        if i >= start:
            frames.append(frame.to_ndarray(format="rgb24"))
        if len(frames) == num:
            break
    return frames


def read_frames(path, start: int, num: int) -> np.ndarray:
    """Decode frames ``start .. start + num - 1`` of ``path`` as (num, H, W, 3) uint8.

    Decoding runs from the first frame (exact for every codec; clips are short). Raises
    :class:`VideoReadError` if the file is unreadable or has fewer than ``start + num`` frames.
    """
    with _open(path) as container:
        try:
            frames = _decode_range(container, start, num)
        except Exception as exc:
            raise VideoReadError(f"cannot decode video {path}: {type(exc).__name__}: {exc}") from exc
    if len(frames) < num:
        raise VideoReadError(f"{path} is too short: needed frames {start}..{start + num - 1}, "
                             f"decoded only {start + len(frames)}")
    return np.stack(frames)
