"""Video files for inference: read references (PyAV, resize-crop) and stream mp4 output (h264, yuv420p).

Pixel tensors here are (3, T, H, W) or (B, 3, T, H, W) floats in [-1, 1] (the VAE's range), RGB.
"""
from __future__ import annotations

import collections
import fractions
import logging
from pathlib import Path
from typing import Optional

import av
import numpy as np
import torch
from einops import rearrange

from opensora.datasets.transforms import resize_crop

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
REFERENCE_SIDES = ("first", "last")
# Fragmented mp4: every fragment is playable on its own, so a stopped run leaves a readable partial video.
STREAMING_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"


class ReferenceClipError(ValueError):
    """A reference clip or image that cannot be used (unreadable, too short)."""


def is_image(path) -> bool:
    return Path(str(path)).suffix.lower() in IMAGE_SUFFIXES


def _decode(path, num_frames: int, side: str) -> tuple[list, int]:
    """Up to ``num_frames`` RGB frames from the ``side`` end of ``path``, and how many frames were decoded."""
    keep, count = collections.deque(maxlen=num_frames), 0
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                keep.append(frame.to_ndarray(format="rgb24"))
                count += 1
                if side == "first" and count == num_frames:
                    break
    except Exception as exc:  # PyAV raises many types (FileNotFoundError, InvalidDataError, ...)
        raise ReferenceClipError(f"cannot read reference {path}: {type(exc).__name__}: {exc}. Pass a readable "
                                 f"video (mp4, ...) or image ({', '.join(IMAGE_SUFFIXES)})") from exc
    return list(keep), count


def read_reference(path, num_frames: int, size: tuple, side: str = "first") -> torch.Tensor:
    """``num_frames`` frames of a reference clip, resize-cropped to ``size`` = (H, W): (3, T, H, W) in [-1, 1].

    Args:
        side: "first" takes the clip's first frames (the paper's benchmark), "last" its last frames
            (to continue a clip from its end).
        An image (by suffix) is repeated ``num_frames`` times (a still clip), so a single image starts a video.
    Raises:
        ReferenceClipError if the file is unreadable or a clip has fewer than ``num_frames`` frames.
    """
    if side not in REFERENCE_SIDES:
        raise ValueError(f"reference side {side!r}; use one of {REFERENCE_SIDES}")
    if not Path(str(path)).exists():
        raise ReferenceClipError(f"reference {path} does not exist (relative paths are resolved from the "
                                 f"working directory, then from the prompt file's directory)")
    frames, count = _decode(path, 1 if is_image(path) else num_frames, side)
    if is_image(path) and frames:
        frames = frames * num_frames
    elif count < num_frames:
        raise ReferenceClipError(f"reference clip {path} has {count} frames, but at least {num_frames} are needed: "
                                 f"the plan conditions on whole VAE chunks (a shorter clip encodes to less than one "
                                 f"chunk). Use a longer clip, or an image (a still start)")
    return resize_crop(np.stack(frames), size)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(3, T, H, W) in [-1, 1] -> (T, H, W, 3) uint8, rounding as Open-Sora's ``save_sample``."""
    x = ((x.detach().float().clamp(-1, 1) + 1) / 2 * 255 + 0.5).clamp(0, 255).to(torch.uint8)
    return rearrange(x, "c t h w -> t h w c").cpu().numpy()


def frames_to_keep(num_frames: int, fps: int, whole_seconds: bool = True) -> int:
    """Frames to keep from ``num_frames``: a whole number of seconds (1445 -> 1440 at 24 fps) if asked.

    Never 0 for a non-empty video: a video shorter than one second is kept whole.
    """
    if num_frames < 0 or fps < 1:
        raise ValueError(f"num_frames={num_frames}, fps={fps}: need num_frames >= 0 and fps >= 1")
    keep = num_frames - num_frames % fps if whole_seconds else num_frames
    return keep if keep > 0 else num_frames


class Mp4Writer:
    """Append frames to an h264 / yuv420p mp4 as they are produced; keeps at most ``max_frames`` frames.

    The file is opened at the first ``write`` (its size is the frames' size; an odd side loses its last
    row/column, as yuv420p needs even sizes). It is a fragmented mp4, so a stopped run leaves a playable file.

    Args:
        path: output file (parent directories are created).  fps: frame rate.
        max_frames: frames to keep (later frames are counted and dropped); None keeps all.
        crf: x264 quality (lower is better; 18 is visually lossless).
    """

    def __init__(self, path, fps: int, max_frames: Optional[int] = None, crf: int = 18):
        self.path, self.fps, self.crf = Path(path), int(fps), int(crf)
        self.max_frames, self.written, self.received = max_frames, 0, 0
        self._container = self._stream = None

    def _open(self, height: int, width: int) -> None:
        h, w = height // 2 * 2, width // 2 * 2
        if h < 2 or w < 2:
            raise ValueError(f"frame size {(height, width)} is too small for an h264 video (need >= 2x2)")
        if (h, w) != (height, width):
            logger.warning("%s: frame size %s is odd; writing %dx%d (yuv420p needs even sizes)",
                           self.path, (height, width), h, w)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), mode="w", options={"movflags": STREAMING_MOVFLAGS})
        self._stream = self._container.add_stream("libx264", rate=self.fps)
        self._time_base = fractions.Fraction(1, self.fps)
        self._stream.width, self._stream.height, self._stream.pix_fmt = w, h, "yuv420p"
        # mbtree off: x264's macroblock-tree rate control made the bytes vary from run to run (seen at small
        # sizes), and resumed videos must equal uninterrupted ones; it costs a few percent of file size
        self._stream.options = {"crf": str(self.crf), "x264-params": "mbtree=0"}

    def write(self, video: torch.Tensor) -> int:
        """Append (3, T, H, W) frames in [-1, 1]; returns how many were kept."""
        if video.dim() != 4 or video.shape[0] != 3:
            raise ValueError(f"frames must be (3, T, H, W), got {tuple(video.shape)}")
        if self._container is None:
            self._open(video.shape[2], video.shape[3])
        room = video.shape[1] if self.max_frames is None else max(0, self.max_frames - self.written)
        take = min(room, video.shape[1])
        self.received += video.shape[1]
        for i, array in enumerate(to_uint8(video[:, :take, : self._stream.height, : self._stream.width])):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
            frame.pts, frame.time_base = self.written + i, self._time_base
            self._container.mux(self._stream.encode(frame))
        self.written += take
        return take

    def close(self) -> None:
        if self._container is None:
            return
        self._container.mux(self._stream.encode(None))  # flush the encoder
        self._container.close()
        self._container = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_video(path) -> np.ndarray:
    """All frames of ``path`` as (T, H, W, 3) uint8 (for tests and tools; whole video in memory)."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
