import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from media import make_dataset, write_video
from opensora.datasets import (BucketBatchSampler, LatentTextDataset, SampleKey, VideoReadError, VideoTextDataset,
                               build_dataloader, probe_video, read_csv, read_frames, resize_crop, write_csv)
from opensora.registry import DATASETS, build_module

REPO = Path(__file__).resolve().parents[2]


def test_read_frames_and_probe(tmp_path):
    path = write_video(tmp_path / "a.mp4", 12, 32, 48, fps=8)
    info = probe_video(path)
    assert (info.num_frames, info.height, info.width, info.fps) == (12, 32, 48, 8.0)
    assert probe_video(path, exact=True).num_frames == 12
    frames = read_frames(path, 3, 5)
    assert frames.shape == (5, 32, 48, 3) and frames.dtype == np.uint8
    with pytest.raises(VideoReadError, match="too short"):
        read_frames(path, 10, 5)


def test_resize_crop_shape_and_range():
    frames = np.random.default_rng(0).integers(0, 256, (3, 32, 48, 3), dtype=np.uint8)
    out = resize_crop(frames, (16, 16))
    assert out.shape == (3, 3, 16, 16) and out.dtype == torch.float32
    assert out.min() >= -1 and out.max() <= 1
    same = resize_crop(frames, (32, 48))  # no resize: exact scaling of the pixels
    assert torch.allclose(same, torch.as_tensor(frames).permute(3, 0, 1, 2).float() / 127.5 - 1)
    with pytest.raises(ValueError, match="RGB"):
        resize_crop(frames[..., :2], (16, 16))


def test_bad_files_are_skipped_and_counted(tmp_path):
    csv_path = make_dataset(tmp_path, num_good=4, num_frames=12, short=1, corrupt=1)
    ds = build_module(dict(type="VideoTextDataset", data_path=str(csv_path), image_size=(16, 24)), DATASETS)
    item = ds[SampleKey(4, 9, 0)]  # row 4 is the 5-frame clip: replaced by the next loadable row
    assert item["skipped"] == [4, 5] and item["index"] == 0  # rows 4 (short) and 5 (corrupt), wraps to 0
    sampler = BucketBatchSampler(ds, {9: 1.0}, batch_size=2, seed=1)
    batches = list(build_dataloader(ds, sampler))
    assert len(batches) == 3 and set().union(*(b["skipped"] for b in batches)) == {4, 5}
    assert all(b["video"].shape == (2, 3, 9, 16, 24) for b in batches)
    assert batches[0]["fps"].dtype == torch.float64 and isinstance(batches[0]["text"], list)


def test_csv_counts_drop_short_rows_up_front(tmp_path):
    csv_path = make_dataset(tmp_path, num_good=3, num_frames=12, short=1, corrupt=0, with_counts=True)
    ds = VideoTextDataset(csv_path, image_size=(16, 16), frame_interval=2)
    assert ds.frame_counts == [6, 6, 6, 3]  # (12 - 1) // 2 + 1
    sampler = BucketBatchSampler(ds, {5: 1.0}, batch_size=1)
    assert sampler.num_unusable == 1 and len(sampler) == 3
    item = ds[SampleKey(0, 5, 3)]
    assert item["video"].shape == (3, 5, 16, 16) and item["fps"] == 4.0


def test_all_bad_raises_actionable_error(tmp_path):
    csv_path = make_dataset(tmp_path, num_good=0, short=1, corrupt=1)
    ds = VideoTextDataset(csv_path, image_size=(16, 16))
    with pytest.raises(RuntimeError, match="no loadable sample"):
        ds[SampleKey(0, 9, 0)]


class _Counts:
    exact_length = False

    def __init__(self, counts):
        self.frame_counts = counts

    def fits(self, count, num_frames):
        return count is None or count >= num_frames


def test_bucket_sampler_one_length_per_batch_and_rank_split():
    ds = _Counts([40] * 30 + [20] * 30 + [None] * 4)
    buckets = {34: 1.0, 17: 1.0}
    per_rank = [BucketBatchSampler(ds, buckets, 3, num_replicas=2, rank=r, seed=5) for r in range(2)]
    b0, b1 = (s.batches(0) for s in per_rank)
    assert len(b0) == len(b1) > 0
    for batch in b0 + b1:
        assert len(batch) == 3 and len({k.num_frames for k in batch}) == 1
        assert all(ds.fits(ds.frame_counts[k.index], k.num_frames) for k in batch)
    used = [k.index for b in b0 + b1 for k in b]
    assert len(used) == len(set(used))  # no row twice in an epoch
    assert per_rank[0].batches(1) != b0  # reshuffled per epoch
    again = BucketBatchSampler(ds, buckets, 3, num_replicas=2, rank=0, seed=5)
    again.set_epoch(0, start_batch=2)
    assert list(again) == b0[2:] and len(again) == len(b0) - 2


def test_bucket_sampler_errors():
    with pytest.raises(ValueError, match="buckets"):
        BucketBatchSampler(_Counts([5]), {}, 1)
    s = BucketBatchSampler(_Counts([5, 5]), {17: 1.0}, 1)
    assert s.num_unusable == 2
    with pytest.raises(ValueError, match="no full batch"):
        len(s)


def test_latent_dataset(tmp_path):
    from safetensors.torch import save_file

    save_file({"latents": torch.randn(4, 5, 2, 3), "y": torch.randn(1, 7, 8), "mask": torch.ones(7)},
              str(tmp_path / "f0.safetensors"))
    rows = [dict(path="f0.safetensors", text="a", num_frames=17, height=16, width=24, fps=24),
            dict(path="missing.safetensors", text="b", num_frames=17, height=16, width=24, fps=24)]
    ds = LatentTextDataset(write_csv(tmp_path / "f.csv", rows, rows[0].keys()))
    assert not ds.fits(34, 17) and ds.fits(17, 17)
    item = ds[SampleKey(1, 17, 0)]
    assert item["skipped"] == [1] and item["latents"].shape == (4, 5, 2, 3) and item["mask"].dtype == torch.int64


def test_read_csv_errors(tmp_path):
    (tmp_path / "x.csv").write_text("file,caption\na,b\n")
    with pytest.raises(ValueError, match="lacks the columns"):
        read_csv(tmp_path / "x.csv")
    (tmp_path / "y.csv").write_text("path,text,num_frames\na,b,many\n")
    with pytest.raises(ValueError, match="num_frames"):
        read_csv(tmp_path / "y.csv")
    with pytest.raises(FileNotFoundError, match="build_csv"):
        read_csv(tmp_path / "none.csv")


def test_build_csv_tool(tmp_path):
    make_dataset(tmp_path / "vids", num_good=2, num_frames=10, short=1, corrupt=1)
    (tmp_path / "vids" / "good0.txt").write_text("a caption from a sidecar\n")
    out = tmp_path / "train.csv"
    res = subprocess.run([sys.executable, str(REPO / "tools/build_csv.py"), str(tmp_path / "vids"), "--output",
                          str(out), "--min-frames", "9", "--no-progress"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    rows = read_csv(out)
    assert [Path(r["path"]).name for r in rows] == ["good0.mp4", "good1.mp4"]
    assert rows[0]["text"] == "a caption from a sidecar" and rows[0]["num_frames"] == 10
    assert "2 skipped" in res.stderr
