"""Video files with PyAV: the one reader (probe, frame ranges, whole videos) and the streaming mp4 writer.

Decoded frames are uint8 arrays (T, H, W, 3), RGB. Any failure to open or decode a file, or a file with fewer
frames than asked for, raises :class:`VideoReadError` (one exception type: datasets skip such files, the CLIs
report them in one line). The writer takes (3, T, H, W) floats in [-1, 1] (the VAE's range).
"""
from __future__ import annotations

import contextlib
import fractions
import io
import itertools
import struct
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import av
import numpy as np
import torch
from einops import rearrange

logger = logging.getLogger(__name__)

# Fragmented mp4: every fragment is playable on its own, so a stopped run leaves a readable partial video.
STREAMING_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
# mbtree off: x264's macroblock-tree rate control made the bytes vary from run to run (seen at small sizes), and
# resumed videos must equal uninterrupted ones; one thread: bytes independent of the machine's core count
X264_PARAMS = "mbtree=0:threads=1"


class VideoReadError(ValueError):
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


def iter_frames(path) -> Iterator[np.ndarray]:
    """The frames of ``path`` one at a time, (H, W, 3) uint8, decoded lazily (stop early to save work)."""
    with _open(path) as container:
        try:
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="rgb24")
        except Exception as exc:  # decoding errors of any PyAV type
            raise VideoReadError(f"cannot decode video {path}: {type(exc).__name__}: {exc}") from exc


def probe_video(path, exact: bool = False) -> VideoInfo:
    """Frame count, size and fps of ``path``.

    The frame count comes from the container header; with ``exact=True`` (or when the header has none)
    every frame is decoded and counted.
    """
    with _open(path) as container:
        if not container.streams.video:
            raise VideoReadError(f"{path} has no video stream")
        stream = container.streams.video[0]
        size, fps = (int(stream.height), int(stream.width)), float(stream.average_rate or 0.0)
        num = stream.frames
    if not num or exact:
        num = sum(1 for _ in iter_frames(path))
    return VideoInfo(int(num), *size, fps)


def read_frames(path, start: int, num: int) -> np.ndarray:
    """Decode frames ``start .. start + num - 1`` of ``path`` as (num, H, W, 3) uint8.

    Decoding runs from the first frame (exact for every codec; clips are short). Raises
    :class:`VideoReadError` if the file is unreadable or has fewer than ``start + num`` frames.
    """
    with contextlib.closing(iter_frames(path)) as frames:
        kept = list(itertools.islice(frames, start, start + num))
    if len(kept) < num:
        raise VideoReadError(f"{path} is too short: needed frames {start}..{start + num - 1}, "
                             f"decoded only {start + len(kept)}")
    return np.stack(kept)


def read_video(path) -> np.ndarray:
    """All frames of ``path`` as (T, H, W, 3) uint8 (for tests and tools; whole video in memory)."""
    return np.stack(list(iter_frames(path)))


def from_uint8(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (3, T, H, W) float32 in [-1, 1], the model range (the inverse of :func:`to_uint8`)."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float() / 127.5 - 1.0


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(3, T, H, W) in [-1, 1] -> (T, H, W, 3) uint8, rounding as Open-Sora's ``save_sample``."""
    x = ((x.detach().float().clamp(-1, 1) + 1) / 2 * 255 + 0.5).clamp(0, 255).to(torch.uint8)
    return rearrange(x, "c t h w -> t h w c").cpu().numpy()


def _boxes(data: bytes) -> list:
    """Top-level ISO-BMFF boxes of ``data`` as (type, bytes) pairs."""
    out, i = [], 0
    while i + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        if size < 8:
            raise ValueError(f"malformed mp4 box {kind!r} of size {size} at byte {i}")
        out.append((kind.decode("latin-1"), data[i:i + size]))
        i += size
    return out


def _shift_decode_time(moof: bytes, ticks: int) -> bytes:
    """``moof`` with its track fragment's base decode time (``tfdt``, version 1) moved by ``ticks``."""
    b, found = bytearray(moof), False
    for start, kind, end in _children(b, 8, len(b)):
        if kind == b"traf":
            for t_start, t_kind, _ in _children(b, start + 8, end):
                if t_kind == b"tfdt":
                    if b[t_start + 8] != 1:
                        raise ValueError("expected a version-1 tfdt box from the mp4 muxer")
                    old = struct.unpack(">Q", b[t_start + 12:t_start + 20])[0]
                    b[t_start + 12:t_start + 20] = struct.pack(">Q", old + ticks)
                    found = True
    if not found:
        raise ValueError("the mp4 muxer wrote a fragment without a tfdt box")
    return bytes(b)


def _children(buf: bytearray, start: int, end: int):
    """(offset, type, end offset) of the boxes in ``buf[start:end]``."""
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", buf[i:i + 8])
        yield i, kind, i + size
        i += max(size, 8)


class Mp4Writer:
    """Append frames to an h264 / yuv420p mp4 as they are produced; keeps at most ``max_frames`` frames.

    Every ``write`` call (one 17-frame chunk in the pipeline) is appended to the file at once as one movie
    fragment (``moof`` + ``mdat``), so whatever stops the process (Ctrl-C, SIGTERM, ``kill -9``), the file is a
    playable video of every chunk written so far. One x264 encoder runs over the whole video without any frame
    delay (``tune=zerolatency``: no B-frames, no lookahead; about 25 % larger files than with them), so each
    chunk's frames are encoded when it is written; x264 runs single-threaded, so the bytes do not depend on the
    machine's core count, and with ``mbtree=0`` they do not vary from run to run.

    Layout: ``ftyp`` + ``moov`` (no samples: ``empty_moov``), then per ``write`` the ``moof`` + ``mdat`` that a
    muxer wrote for that chunk's packets, its start time (``tfdt``) and sequence number set for its place.

    Args:
        path: output file (parent directories are created).  fps: frame rate.
        max_frames: frames to keep (later frames are counted and dropped); None keeps all.
        crf: x264 quality (lower is better; 18 is visually lossless).
    """

    def __init__(self, path, fps: int, max_frames: Optional[int] = None, crf: int = 18):
        self.path, self.fps, self.crf = Path(path), int(fps), int(crf)
        self.max_frames, self.written, self.received = max_frames, 0, 0
        self.size: Optional[tuple] = None
        self._time_base = fractions.Fraction(1, self.fps)
        self._file = self._encoder = self._holder = None
        self._fragments = 0

    def _add_stream(self, container):
        """An h264 stream with this writer's settings (identical in every container: same SPS / PPS)."""
        stream = container.add_stream("libx264", rate=self.fps)
        stream.height, stream.width = self.size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.crf), "tune": "zerolatency", "x264-params": X264_PARAMS}
        return stream

    def _open(self, height: int, width: int) -> None:
        h, w = height // 2 * 2, width // 2 * 2
        if h < 2 or w < 2:
            raise ValueError(f"frame size {(height, width)} is too small for an h264 video (need >= 2x2)")
        if (h, w) != (height, width):
            logger.warning("%s: frame size %s is odd; writing %dx%d (yuv420p needs even sizes)",
                           self.path, (height, width), h, w)
        self.size = (h, w)
        self._holder = av.open(io.BytesIO(), mode="w", format="mp4")  # owns the encoder; never written
        self._encoder = self._add_stream(self._holder)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "wb")

    def _fragment(self, packets: list, first_frame: int) -> bytes:
        """The boxes a muxer writes for ``packets``, placed at ``first_frame`` (+ the file header if first)."""
        buffer = io.BytesIO()
        options = {"movflags": STREAMING_MOVFLAGS, "fragment_index": str(self._fragments + 1)}
        with av.open(buffer, mode="w", format="mp4", options=options) as container:
            stream = self._add_stream(container)
            for packet in packets:
                packet.stream = stream
                container.mux(packet)
            ticks = self._time_base / stream.time_base  # track ticks per frame (the muxer's timescale)
        if ticks.denominator != 1:
            raise ValueError(f"the mp4 timescale does not hold whole frames at {self.fps} fps")
        keep = ("ftyp", "moov", "moof", "mdat") if self._fragments == 0 else ("moof", "mdat")
        boxes = [(k, b) for k, b in _boxes(buffer.getvalue()) if k in keep]
        self._fragments += sum(k == "moof" for k, _ in boxes)
        return b"".join(_shift_decode_time(b, first_frame * int(ticks)) if k == "moof" else b for k, b in boxes)

    def _append(self, packets: list, first_frame: int) -> None:
        if packets:
            self._file.write(self._fragment(packets, first_frame))
            self._file.flush()  # in the OS now: a killed process leaves every finished fragment

    def write(self, video: torch.Tensor) -> int:
        """Append (3, T, H, W) frames in [-1, 1] as one fragment; returns how many were kept."""
        if video.dim() != 4 or video.shape[0] != 3:
            raise ValueError(f"frames must be (3, T, H, W), got {tuple(video.shape)}")
        if self._file is None:
            self._open(video.shape[2], video.shape[3])
        room = video.shape[1] if self.max_frames is None else max(0, self.max_frames - self.written)
        take = min(room, video.shape[1])
        self.received += video.shape[1]
        if take > 0:
            h, w = self.size
            packets = []
            for i, array in enumerate(to_uint8(video[:, :take, :h, :w])):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
                frame.pts, frame.time_base = self.written + i, self._time_base
                packets += self._encoder.encode(frame)
            self._append(packets, self._first_pending(packets))
            self.written += take
        return take

    def _first_pending(self, packets: list) -> int:
        """The frame index of the first packet (its decode time): packets carry the frames' pts."""
        return int(min(p.dts for p in packets)) if packets else self.written

    def close(self) -> None:
        if self._file is None:
            return
        tail = self._encoder.encode(None)  # nothing is held back with zerolatency; flushed for safety
        self._append(tail, self._first_pending(tail))
        self._file.close()
        self._holder.close()
        self._file = self._encoder = self._holder = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
