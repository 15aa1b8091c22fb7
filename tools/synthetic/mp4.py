"""Streaming mp4 writer (PyAV, libx264, yuv420p): frames are encoded as they arrive, never held together."""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np


def write_mp4(path, frames: Iterable[np.ndarray], fps: int, crf: int = 18) -> int:
    """Encode RGB uint8 frames of shape (H, W, 3) to ``path``; returns the number of frames written.

    H and W must be even (yuv420p). The file appears atomically: it is written next to ``path`` and renamed.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    count = 0
    with av.open(str(tmp), mode="w", format="mp4") as container:
        stream = None
        for frame in frames:
            if stream is None:
                stream = _add_stream(container, frame.shape, fps, crf)
            _check_frame(frame, stream, count)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            count += 1
        if stream is None:
            raise ValueError(f"no frames to write to {path}")
        container.mux(stream.encode(None))
    os.replace(tmp, path)
    return count


def _add_stream(container, shape, fps: int, crf: int):
    if len(shape) != 3 or shape[2] != 3 or shape[0] % 2 or shape[1] % 2:
        raise ValueError(f"frames must be (H, W, 3) with even H and W for yuv420p, got {shape}")
    stream = container.add_stream("libx264", rate=fps)
    stream.height, stream.width, stream.pix_fmt = shape[0], shape[1], "yuv420p"
    stream.options = {"crf": str(crf), "preset": "medium"}
    return stream


def _check_frame(frame: np.ndarray, stream, index: int) -> None:
    if frame.dtype != np.uint8 or frame.shape != (stream.height, stream.width, 3):
        raise ValueError(f"frame {index} is {frame.dtype} {frame.shape}; every frame must be uint8 "
                         f"({stream.height}, {stream.width}, 3) like the first")
