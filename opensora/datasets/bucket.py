"""Frame-count buckets: every batch holds clips of one length (temporal attention has no padding mask).

Each epoch every row is assigned to one bucket it fits (drawn with the configured weights, renormalised
over the buckets the row fits), batches are cut within buckets, and the batch list is shuffled. All of it
comes from one generator seeded by (seed, epoch), identical on every rank; rank r takes batches
r, r + world, ... so all ranks run the same number of steps. Resuming at (epoch, batch) replays exactly.
"""
from __future__ import annotations

import torch
from torch.utils.data import Sampler

from opensora.utils.logging import get_logger

from .video_dataset import SampleKey

logger = get_logger(__name__)


def _check_buckets(buckets) -> dict[int, float]:
    if not buckets:
        raise ValueError("buckets is empty; give [(num_frames, weight), ...] or {num_frames: weight}, "
                         "e.g. [(119, 1.0)]")
    out = {int(k): float(v) for k, v in dict(buckets).items()}
    if any(k < 1 for k in out) or any(v < 0 for v in out.values()) or sum(out.values()) <= 0:
        raise ValueError(f"buckets must map frame counts >= 1 to weights >= 0 (not all 0), got {buckets}")
    return out


class BucketBatchSampler(Sampler):
    """Yields this rank's batches as lists of :class:`SampleKey` (index, num_frames, seed).

    Args:
        dataset: has ``frame_counts`` (per row, or None = unknown) and ``fits(count, num_frames)``.
        buckets: {num_frames: weight} or [(num_frames, weight), ...] (configs use the list: mmengine would
            merge a child config's dict into its base's).
        batch_size: samples per batch on this rank.
        num_replicas, rank: data-parallel world size and this rank.
        seed: base seed (the epoch is mixed in).
    """

    def __init__(self, dataset, buckets, batch_size: int, *, num_replicas: int = 1, rank: int = 0, seed: int = 0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.buckets = _check_buckets(buckets)
        self.frames = sorted(self.buckets)
        self.batch_size, self.num_replicas, self.rank, self.seed = batch_size, num_replicas, rank, seed
        counts = dataset.frame_counts
        self.fits = torch.tensor([[dataset.fits(c, f) for f in self.frames] for c in counts], dtype=torch.bool)
        weights = torch.tensor([self.buckets[f] for f in self.frames], dtype=torch.float64)
        self.weights = self.fits.double() * weights
        self.num_unusable = int((self.weights.sum(1) == 0).sum())
        self.exact_length = bool(getattr(dataset, "exact_length", False))
        self._lengths = sorted({c for c in counts if c is not None})
        if self.num_unusable:
            why = "no bucket equals their frame count" if self.exact_length else "too short for every bucket"
            logger.warning("skipping %d of %d rows: %s %s per the CSV's num_frames", self.num_unusable,
                           len(counts), why, self.frames)
        self.epoch, self.start_batch, self._cache = 0, 0, {}

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Iterate epoch ``epoch`` from its batch ``start_batch`` (this rank's count)."""
        self.epoch, self.start_batch = int(epoch), int(start_batch)

    def _all_batches(self, epoch: int) -> list[list[SampleKey]]:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(len(self.weights), generator=gen)
        w = self.weights[perm]
        usable = w.sum(1) > 0
        perm, w = perm[usable], w[usable]
        if len(perm) == 0:
            return []
        choice = torch.multinomial(w, 1, generator=gen).flatten()
        groups = []
        for b, frames in enumerate(self.frames):
            rows = perm[choice == b].tolist()
            groups += [(frames, rows[k:k + self.batch_size])
                       for k in range(0, len(rows) - self.batch_size + 1, self.batch_size)]
        order = torch.randperm(len(groups), generator=gen).tolist()
        seeds = torch.randint(0, 2**31 - 1, (max(len(groups), 1), self.batch_size), generator=gen).tolist()
        return [[SampleKey(i, groups[o][0], s) for i, s in zip(groups[o][1], seeds[n])] for n, o in enumerate(order)]

    def batches(self, epoch: int) -> list[list[SampleKey]]:
        """This rank's batches for ``epoch`` (all of them, ignoring ``start_batch``)."""
        if epoch not in self._cache:
            every = self._all_batches(epoch)
            usable = len(every) // self.num_replicas * self.num_replicas
            self._cache = {epoch: every[self.rank:usable:self.num_replicas]}
        return self._cache[epoch]

    def num_batches(self, epoch: int) -> int:
        n = len(self.batches(epoch))
        if n == 0:
            raise ValueError(f"no full batch in epoch {epoch}: {len(self.weights) - self.num_unusable} usable rows, "
                             f"batch_size {self.batch_size} x {self.num_replicas} ranks, buckets {self.buckets}; "
                             + self._fix())
        return n

    def _fix(self) -> str:
        if self.exact_length and self.num_unusable:  # pre-extracted features cannot be cropped to a bucket
            lengths = self._lengths[:5]
            return (f"feature rows only serve a bucket of exactly their frame count, and these hold {lengths} "
                    f"frames: set buckets=[({lengths[-1] if lengths else 119}, 1.0)] to match, or re-extract "
                    f"with tools/extract_features.py --num-frames N for the bucket you want")
        return "add data, lower --batch-size or add shorter buckets"

    def __len__(self) -> int:
        return max(self.num_batches(self.epoch) - self.start_batch, 0)

    def __iter__(self):
        yield from self.batches(self.epoch)[self.start_batch:]
