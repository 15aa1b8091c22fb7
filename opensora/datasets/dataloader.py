"""DataLoader over a bucketed dataset."""
from __future__ import annotations

from torch.utils.data import DataLoader, default_collate


def collate(items: list[dict]) -> dict:
    """Stack tensors; ``text`` stays a list of str; ``skipped`` joins the items' lists of bad rows."""
    skipped = sorted({i for it in items for i in it["skipped"]})
    batch = default_collate([{k: v for k, v in it.items() if k != "skipped"} for it in items])
    batch["skipped"] = skipped
    return batch


def build_dataloader(dataset, batch_sampler, num_workers: int = 0, pin_memory: bool = False,
                     prefetch_factor: int | None = None) -> DataLoader:
    """A DataLoader whose batches come from ``batch_sampler`` (e.g. :class:`BucketBatchSampler`)."""
    extra = {"prefetch_factor": prefetch_factor, "persistent_workers": False} if num_workers > 0 else {}
    return DataLoader(dataset, batch_sampler=batch_sampler, num_workers=num_workers, collate_fn=collate,
                      pin_memory=pin_memory, **extra)
