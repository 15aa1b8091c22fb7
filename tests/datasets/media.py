"""Tiny synthetic media for tests: mp4 files written with PyAV, corrupt files, and CSVs listing them."""
from __future__ import annotations

import csv
from pathlib import Path

import av
import numpy as np


def write_video(path, num_frames: int, height: int = 32, width: int = 48, fps: int = 8, seed: int = 0) -> Path:
    """A smooth moving pattern (compresses well, decodes close to the input)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, size=(height // 4, width // 4, 3), dtype=np.uint8)
    path = Path(path)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width, stream.pix_fmt = height, width, "yuv420p"
        for i in range(num_frames):
            img = np.roll(np.kron(base, np.ones((4, 4, 1), np.uint8)), i, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_corrupt(path) -> Path:
    path = Path(path)
    path.write_bytes(b"this is not a video" * 10)
    return path


def write_csv(path, rows: list[dict]) -> Path:
    cols = ["path", "text", "num_frames", "height", "width", "fps"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return Path(path)


def make_dataset(folder, num_good: int = 4, num_frames: int = 40, short: int = 1, corrupt: int = 1,
                 with_counts: bool = False, height: int = 32, width: int = 48) -> Path:
    """A folder of ``num_good`` good clips plus ``short`` 5-frame clips and ``corrupt`` broken files.

    With ``with_counts`` the CSV carries num_frames (so short clips are dropped up front); otherwise the
    dataset only finds out when it decodes.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(num_good):
        p = write_video(folder / f"good{i}.mp4", num_frames, height, width, seed=i)
        rows.append(dict(path=p.name, text=f"clip number {i}", num_frames=num_frames if with_counts else "", fps=8))
    for i in range(short):
        p = write_video(folder / f"short{i}.mp4", 5, height, width, seed=100 + i)
        rows.append(dict(path=p.name, text="too short", num_frames=5 if with_counts else "", fps=8))
    for i in range(corrupt):
        p = write_corrupt(folder / f"corrupt{i}.mp4")
        rows.append(dict(path=p.name, text="corrupt", num_frames="", fps=8))
    return write_csv(folder / "data.csv", rows)
