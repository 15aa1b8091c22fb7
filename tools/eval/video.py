"""Streaming video decoding for the evaluation: the project's one PyAV reader (``opensora.utils.video_io``),
frames yielded one at a time, never held together."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from opensora.utils import video_io


def iter_frames(path) -> Iterator[np.ndarray]:
    """Yield the frames of ``path`` as RGB uint8 arrays (H, W, 3)."""
    _exists(path)
    return video_io.iter_frames(path)


def video_header(path) -> tuple[float, int, int]:
    """(fps, width, height) from the container header."""
    _exists(path)
    info = video_io.probe_video(path)
    if not info.fps:
        raise ValueError(f"{path} has no frame rate in its header; re-encode it with one (e.g. 24 fps)")
    return info.fps, info.width, info.height


def _exists(path) -> None:
    if not Path(path).is_file():
        raise FileNotFoundError(f"video {path} does not exist")
