#!/usr/bin/env python
"""Pre-extract VAE latents and text embeddings for faster training (Open-Sora's feature-extraction idea).

Reads the training config's ``dataset`` (resize-crop size, frame interval), ``vae`` and ``text_encoder``,
encodes one clip of ``--num-frames`` frames per CSV row (default: the config's longest bucket), and
writes ``OUTPUT/NNNNNNNN.safetensors`` (``latents`` (4, T, h, w), ``y`` (1, L, D), ``mask`` (L,)) plus
``OUTPUT/features.csv`` for ``LatentTextDataset`` (configs/pavdm/train_features.py). Unreadable and
too-short videos are skipped with a warning and counted. Runs on one process or under torchrun (rows
are split across ranks).

    python tools/extract_features.py configs/pavdm/train.py --data-path data/train.csv --output data/feats

Note: the VAE posterior is sampled once per clip here (training on the fly draws a new sample each step).
"""
from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from opensora.datasets import write_csv
from opensora.registry import DATASETS, build_module
from opensora.training.build import build_encoders
from opensora.training.preflight import TRAIN_CONFIG_KEYS
from opensora.utils.ckpt import save_safetensors
from opensora.utils.cli import run_cli
from opensora.utils.config import add_config_args, check_top_level_keys, parse_config, to_dict
from opensora.utils.dist import barrier, destroy, get_rank, get_world_size, init_distributed
from opensora.utils.dtype import DTYPES, as_dtype
from opensora.utils.video_io import VideoReadError

COLUMNS = ("path", "text", "num_frames", "height", "width", "fps")
logger = logging.getLogger("extract_features")


def build_parser() -> argparse.ArgumentParser:
    p = add_config_args(argparse.ArgumentParser(description=__doc__,
                                                formatter_class=argparse.RawDescriptionHelpFormatter),
                        "configs/pavdm/train.py", "dataset.image_size=\"(240,426)\" dtype=fp32")
    p.add_argument("--data-path", help="video CSV (tools/build_csv.py)")
    p.add_argument("--output", type=Path, required=True, help="folder for the feature files and features.csv")
    p.add_argument("--num-frames", type=int, default=None, help="frames per clip (default: the longest bucket)")
    p.add_argument("--save-dtype", default="bf16", choices=sorted(DTYPES), help="storage precision")
    p.add_argument("--no-progress", action="store_true")
    return p


def parse_args(argv=None):
    cfg, args = parse_config(build_parser(), argv, {"data_path": "dataset.data_path"})
    check_top_level_keys(cfg, TRAIN_CONFIG_KEYS, "training config")
    return cfg, args


def encode_row(dataset, index: int, num_frames: int, *, vae, text_encoder, generator, device) -> dict:
    item = dataset.load(index, num_frames, seed=index)
    with torch.no_grad():
        z = vae.encode(item["video"][None].to(device, vae.dtype), generator=generator)[0]
        text = text_encoder.encode([item["text"]])
    return {"latents": z, "y": text["y"][0], "mask": text["mask"][0]}, item


def extract(cfg, args, device) -> tuple[list[dict], int]:
    dataset = build_module(to_dict(cfg.dataset), DATASETS)
    vae, text_encoder = build_encoders(cfg, device=device, latents_given=False)
    num_frames = args.num_frames or max(f for f, _ in cfg.buckets)
    dtype = as_dtype(args.save_dtype)
    generator = torch.Generator(device=device).manual_seed(cfg.seed + get_rank())
    rows, bad = [], 0
    mine = range(get_rank(), len(dataset), get_world_size())
    for index in tqdm(mine, desc="extracting features", disable=args.no_progress or get_rank() != 0):
        try:
            feats, item = encode_row(dataset, index, num_frames, vae=vae, text_encoder=text_encoder,
                                     generator=generator, device=device)
        except VideoReadError as exc:
            bad += 1
            logger.warning("skipping row %d, %s: %s", index, dataset.rows[index]["path"], exc)
            continue
        path = save_safetensors({k: v.to(dtype) if v.is_floating_point() else v for k, v in feats.items()},
                                args.output / f"{index:08d}.safetensors")
        rows.append(dict(path=path.name, text=item["text"], num_frames=num_frames, height=item["height"],
                         width=item["width"], fps=item["fps"]))
    return rows, bad


def merge_parts(output: Path, world_size: int) -> tuple[Path, int]:
    """Join the per-rank CSVs (paths stay relative to ``output``) into ``features.csv``."""
    rows = []
    for rank in range(world_size):
        part = output / f"features_rank{rank}.csv"
        with open(part, newline="", encoding="utf-8") as f:
            rows += list(csv.DictReader(f))
        part.unlink()
    rows.sort(key=lambda r: r["path"])
    return write_csv(output / "features.csv", rows, COLUMNS), len(rows)


def main(argv=None) -> int:
    cfg, args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] %(message)s")
    info = init_distributed()
    args.output.mkdir(parents=True, exist_ok=True)
    rows, bad = extract(cfg, args, info.device)
    write_csv(args.output / f"features_rank{info.rank}.csv", rows, COLUMNS)
    logger.info("rank %d: %d clips encoded, %d videos skipped (unreadable or too short)", info.rank, len(rows), bad)
    barrier()
    if info.rank == 0:
        path, count = merge_parts(args.output, info.world_size)
        logger.info("wrote %s (%d clips); train with configs/pavdm/train_features.py --data-path %s", path, count, path)
    destroy()
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
