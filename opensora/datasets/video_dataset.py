"""Datasets of (clip, caption) pairs listed in a CSV; bad files are skipped, never fatal.

Items are addressed by a :class:`SampleKey` ``(index, num_frames, seed)`` that the bucket sampler builds:
``num_frames`` is the batch's bucket (every sample in a batch shares it) and ``seed`` fixes the random
temporal crop, so a sample is the same whatever worker loads it (needed for exact resume).
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
from torch.utils.data import Dataset

from opensora.registry import DATASETS
from opensora.utils.logging import get_logger
from opensora.utils.video_io import VideoReadError, probe_video, read_frames

from .csv_table import read_csv
from .transforms import resize_crop

logger = get_logger(__name__)


class SampleKey(NamedTuple):
    index: int
    num_frames: int
    seed: int


class SkippingDataset(Dataset):
    """Base class: retries the next rows when a file is unreadable or too short.

    Subclasses set ``rows`` and implement ``_load(row, num_frames, seed) -> dict``, raising
    :class:`VideoReadError` for a bad file. Each returned item carries ``skipped``: the row indices of the
    bad files passed over to produce it (the training loop counts the distinct ones and logs them).
    """

    exact_length = False  # a row with more frames than the bucket can be cropped to it
    provides_latents = False  # items hold pixels (``video``), not pre-extracted ``latents``
    max_retries = 32

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def frame_counts(self) -> list[int | None]:
        """Usable clip length of every row (None when the CSV does not say)."""
        return [row["num_frames"] for row in self.rows]

    def fits(self, count: int | None, num_frames: int) -> bool:
        if count is None:
            return True
        return count == num_frames if self.exact_length else count >= num_frames

    def load(self, index: int, num_frames: int, seed: int) -> dict:
        """Row ``index`` as a clip of ``num_frames`` (no substitution); raises :class:`VideoReadError`."""
        return self._load(self.rows[index], num_frames, seed)

    def __getitem__(self, key) -> dict:
        key = SampleKey(*key)
        skipped = []
        for attempt in range(len(self)):
            idx = (key.index + attempt) % len(self)
            row = self.rows[idx]
            if not self.fits(self.frame_counts[idx], key.num_frames):
                continue  # known from the CSV: not a candidate for this bucket, not a bad file
            try:
                item = self._load(row, key.num_frames, key.seed)
            except VideoReadError as exc:
                skipped.append(idx)
                logger.warning("skipping row %d, %s: %s", idx, row["path"], exc)
                if len(skipped) > self.max_retries:
                    break
                continue
            return {**item, "index": idx, "skipped": skipped}
        raise RuntimeError(f"no loadable sample with {key.num_frames} frames found from row {key.index} "
                           f"({len(skipped)} unreadable or too-short files in a row); check the CSV "
                           f"(`python tools/build_csv.py` recomputes frame counts)")


@DATASETS.register_module("VideoTextDataset")
class VideoTextDataset(SkippingDataset):
    """Videos from a CSV ``path,text[,num_frames,height,width,fps]``, decoded with PyAV.

    Args:
        data_path: the CSV; relative video paths are resolved against its folder.
        image_size: (height, width) after resize-crop.
        frame_interval: take every n-th source frame.
        default_fps: used when neither the CSV nor the file gives a frame rate.

    Item keys: ``video`` (3, F, H, W) float32 in [-1, 1]; ``text`` str; ``fps`` float (after
    ``frame_interval``); ``num_frames``, ``height``, ``width`` int (of the clip); ``index`` int; ``skipped`` list[int].
    """

    def __init__(self, data_path, image_size=(240, 426), frame_interval: int = 1, default_fps: float = 24.0):
        if frame_interval < 1:
            raise ValueError(f"frame_interval must be >= 1, got {frame_interval}")
        self.rows = read_csv(data_path)
        self.image_size = tuple(image_size)
        self.frame_interval = frame_interval
        self.default_fps = default_fps
        self._counts = [self._clip_len(r["num_frames"]) for r in self.rows]

    def _clip_len(self, source_frames):
        return None if source_frames is None else (source_frames - 1) // self.frame_interval + 1

    @property
    def frame_counts(self):
        return self._counts

    def _load(self, row, num_frames, seed):
        span = (num_frames - 1) * self.frame_interval + 1
        info = probe_video(row["path"]) if row["num_frames"] is None or row["fps"] is None else None
        total = row["num_frames"] if row["num_frames"] is not None else info.num_frames
        if total < span:
            raise VideoReadError(f"too short: {total} frames, the clip needs {span}")
        gen = torch.Generator().manual_seed(int(seed))
        start = int(torch.randint(0, total - span + 1, (1,), generator=gen))
        frames = read_frames(row["path"], start, span)[:: self.frame_interval]
        fps = row["fps"] or (info.fps if info else 0.0) or self.default_fps
        return {"video": resize_crop(frames, self.image_size), "text": row["text"],
                "fps": float(fps) / self.frame_interval, "num_frames": num_frames,
                "height": self.image_size[0], "width": self.image_size[1]}


@DATASETS.register_module("LatentTextDataset")
class LatentTextDataset(SkippingDataset):
    """Pre-extracted features (``tools/extract_features.py``) listed in a CSV.

    CSV columns: ``path`` (a .safetensors file with ``latents`` (4, T, h, w), ``y`` (1, L, D), ``mask`` (L,)),
    ``text``, ``num_frames``, ``height``, ``width``, ``fps`` (of the encoded pixel clip).

    Item keys: ``latents``, ``y``, ``mask`` (float32 / int64), plus ``text``, ``fps``, ``num_frames``,
    ``height``, ``width``, ``index``, ``skipped`` as for :class:`VideoTextDataset`. A row serves only the
    bucket equal to its ``num_frames`` (latents cannot be re-cropped in pixel frames).
    """

    exact_length = True
    provides_latents = True

    def __init__(self, data_path):
        self.rows = read_csv(data_path)
        bad = [r["path"] for r in self.rows if r["num_frames"] is None or r["height"] is None]
        if bad:
            raise ValueError(f"{data_path}: feature rows need num_frames/height/width/fps; missing for {bad[:3]}")

    def _load(self, row, num_frames, seed):
        from safetensors.torch import load_file

        if not Path(row["path"]).is_file():
            raise VideoReadError(f"feature file {row['path']} does not exist")
        try:
            feats = load_file(row["path"])
        except Exception as exc:
            raise VideoReadError(f"cannot read features {row['path']}: {exc}") from exc
        return {"latents": feats["latents"].float(), "y": feats["y"].float(), "mask": feats["mask"].long(),
                "text": row["text"], "fps": float(row["fps"] or 24.0), "num_frames": num_frames,
                "height": row["height"], "width": row["width"]}
