"""Training data: CSV video datasets, pre-extracted feature datasets, frame-count buckets.

Importing this package registers the datasets in ``opensora.registry.DATASETS``.
"""
from opensora.utils.video_io import VideoInfo, VideoReadError, probe_video, read_frames  # noqa: F401  (the reader)

from .bucket import BucketBatchSampler  # noqa: F401
from .csv_table import read_csv, write_csv  # noqa: F401
from .dataloader import build_dataloader, collate  # noqa: F401
from .transforms import resize_crop  # noqa: F401
from .video_dataset import LatentTextDataset, SampleKey, SkippingDataset, VideoTextDataset  # noqa: F401
