"""Fit the embedded tiny model's VAE (``PCAVideoVAE``) to a video dataset and report its reconstruction PSNR.

    python tools/fit_pca_vae.py --data-path data/synthetic/train.csv --eval-path data/synthetic/heldout.csv \
        --out checkpoints/tiny/vae --latent-channels 32

Every whole 17-frame micro-chunk of every video in ``--data-path`` (an Open-Sora CSV: ``path`` column) is cut into
groups exactly as ``PCAVideoVAE.encode`` cuts it; the C principal axes of the groups become the basis. The latent
scale decides how the diffusion loss weighs the channels (``--scaling``, see ``fit_pca``): ``balanced`` (default,
scale_c = sqrt(std_c * mean std)), ``uniform`` (latent MSE = pixel MSE) or ``whiten`` (each axis' standard deviation:
the fit shipped before issue 10, whose model flickered at every latent boundary). The PSNR of encode -> decode on ``--eval-path`` (and on the fitted data) is
written into ``config.json`` and printed; the issue's bar for an analytic VAE is 30 dB.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opensora.models.vae import ChunkPCAVideoVAE, PanChunkPCAVideoVAE, RingPanChunkPCAVideoVAE  # noqa: E402
from opensora.models.vae.pca_vae import LATENT_SCALINGS, PCAStats, PCAVideoVAE, fit_pca  # noqa: E402

VAE_TYPES = {"PCAVideoVAE": PCAVideoVAE, "ChunkPCAVideoVAE": ChunkPCAVideoVAE,
             "PanChunkPCAVideoVAE": PanChunkPCAVideoVAE, "RingPanChunkPCAVideoVAE": RingPanChunkPCAVideoVAE}
from opensora.utils.video_io import from_uint8, read_video  # noqa: E402


def video_paths(csv_path, limit: int | None = None) -> list[Path]:
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "path" not in rows[0]:
        raise ValueError(f"{csv_path}: expected an Open-Sora CSV with a 'path' column and at least one row")
    base = Path(csv_path).resolve().parent
    paths = [Path(r["path"]) if Path(r["path"]).is_absolute() else base / r["path"] for r in rows]
    return paths[:limit] if limit else paths


def chunks_of(path: Path, chunk: int):
    """Whole ``chunk``-frame pieces of a video as (1, 3, chunk, H, W) float tensors in [-1, 1]."""
    frames = from_uint8(read_video(path))
    for start in range(0, frames.shape[1] - chunk + 1, chunk):
        yield frames[None, :, start:start + chunk]


def fit(vae: PCAVideoVAE, paths: list[Path], progress: bool = True, scaling: str = "balanced") -> dict:
    stats = PCAStats(vae.group_dim)
    for path in tqdm(paths, desc="fit", disable=not progress):
        for x in chunks_of(path, vae.micro_frame_size):
            stats.update(vae.fit_groups(x))
    result = fit_pca(stats, vae.num_components, scaling)
    vae.load_fit(result)
    return result


@torch.no_grad()
def psnr(vae: PCAVideoVAE, paths: list[Path], progress: bool = True) -> float:
    """PSNR (dB, 8-bit range) of encode -> decode over all whole chunks of ``paths``, clipped like the writer."""
    total, count = 0.0, 0
    for path in tqdm(paths, desc="eval", disable=not progress):
        for x in chunks_of(path, vae.micro_frame_size):
            rec = vae.decode(vae.encode(x), x.shape[2]).clamp(-1, 1)
            total += float(((rec - x) * 127.5).pow(2).sum())
            count += x.numel()
    if count == 0:
        raise ValueError("no whole 17-frame chunk to evaluate; give videos of at least 17 frames")
    return 10 * math.log10(255.0 ** 2 / (total / count))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-path", required=True, help="CSV of the videos to fit (Open-Sora format)")
    p.add_argument("--eval-path", help="CSV of held-out videos for the reported PSNR")
    p.add_argument("--out", required=True, help="output directory (model.safetensors + config.json)")
    p.add_argument("--vae-type", choices=list(VAE_TYPES), default="PCAVideoVAE",
                   help="PCAVideoVAE: a basis per 4-frame group; ChunkPCAVideoVAE: a basis per 17-frame chunk; "
                        "PanChunkPCAVideoVAE: the chunk basis on a pan-compensated canvas plus the pan speed; "
                        "RingPanChunkPCAVideoVAE: the same on a world-anchored ring canvas")
    p.add_argument("--latent-channels", type=int, default=32)
    p.add_argument("--patch-size", type=int, default=8)
    p.add_argument("--scaling", choices=LATENT_SCALINGS, default="balanced",
                   help="latent scale per channel: balanced (default), uniform or whiten (see fit_pca)")
    p.add_argument("--max-videos", type=int, default=None, help="fit on the first N videos only")
    p.add_argument("--basis-from", help="RingPanChunkPCAVideoVAE only: take the basis of this fitted "
                   "PanChunkPCAVideoVAE checkpoint (the same latent layout, so a model trained on it starts from "
                   "latents it knows) instead of fitting one")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    a = parse_args(argv)
    show = not a.no_progress
    vae = VAE_TYPES[a.vae_type](latent_channels=a.latent_channels, patch_size=a.patch_size)
    fit_paths = video_paths(a.data_path, a.max_videos)
    if a.basis_from is not None:
        if not isinstance(vae, RingPanChunkPCAVideoVAE):
            raise ValueError(f"--basis-from takes a PanChunkPCAVideoVAE's basis into a RingPanChunkPCAVideoVAE; "
                             f"got --vae-type {a.vae_type}")
        vae.take_basis(PanChunkPCAVideoVAE(from_pretrained=a.basis_from, latent_channels=a.latent_channels,
                                           patch_size=a.patch_size))
        report = {"basis_from": str(a.basis_from), "psnr_fit_db": round(psnr(vae, fit_paths[:32], show), 2)}
    else:
        result = fit(vae, fit_paths, show, a.scaling)
        report = {"fit_videos": len(fit_paths), "explained_variance": round(result["explained"], 6),
                  "scaling": a.scaling, "channel_std": [round(float(v), 4) for v in result["std"]],
                  "psnr_fit_db": round(psnr(vae, fit_paths[:32], show), 2)}
    if a.eval_path:
        report["psnr_eval_db"] = round(psnr(vae, video_paths(a.eval_path), show), 2)
    vae.save_pretrained(a.out, extra={"fit": report})
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    from opensora.utils.cli import run_cli

    sys.exit(run_cli(main))
