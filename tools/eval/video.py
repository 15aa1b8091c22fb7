"""Streaming video decoding with PyAV (frames are yielded one at a time, never held together)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np


def iter_frames(path) -> Iterator[np.ndarray]:
    """Yield the frames of ``path`` as RGB uint8 arrays (H, W, 3)."""
    with _open(path) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def video_header(path) -> tuple[float, int, int]:
    """(fps, width, height) from the container header."""
    with _open(path) as container:
        stream = container.streams.video[0]
        rate, width, height = stream.average_rate, stream.width, stream.height
    if not rate:
        raise ValueError(f"{path} has no frame rate in its header; re-encode it with one (e.g. 24 fps)")
    return float(rate), int(width), int(height)


def _open(path):
    if not Path(path).is_file():
        raise FileNotFoundError(f"video {path} does not exist")
    container = av.open(str(path))
    if not container.streams.video:
        container.close()
        raise ValueError(f"{path} has no video stream")
    return container
