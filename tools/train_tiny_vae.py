"""Train the tiny Open-Sora v1.2 VAE (``OpenSoraVAE_V1_2-tiny``) on clips of the synthetic world.

Notation:

| symbol | meaning |
|---|---|
| x | clip (B, 3, T, H, W) in [-1, 1], T = micro_frame_size (17) |
| q(z \\| x) | temporal posterior N(mean, exp(logvar)) over the raw latents (B, 4, 5, H/8, W/8) |
| loss | mean |x_rec - x|^2 + kl_weight * KL(q(z \\| x) \\|\\| N(0, 1)) |
| PSNR | 10 log10(1 / MSE) on [0, 1] pixels (reconstructions clamped), over all held-out clips |

Clips are rendered straight from :class:`tools.synthetic.world.World` (no mp4 round trip): a pool of
``--num-videos`` train-split videos, clips drawn with an explicit ``torch.Generator``; PSNR is measured on
the first clip of ``--eval-videos`` held-out-split videos through the public ``encode`` / ``decode`` path.
After training, the latent normalisation (``shift``, ``scale`` buffers) is set to the per-channel mean and
std of the held-out latents, so that normalised latents are roughly N(0, 1) for the diffusion model.

Writes ``OUT/model.safetensors`` and ``OUT/train_tiny_vae.json`` (config, PSNR history, wall time).
Example::

    python -m tools.train_tiny_vae --out outputs/tiny_vae --steps 2000 --batch-size 2
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from opensora.models.vae.vae import opensora_vae_v1_2_tiny
from opensora.utils.ckpt import save_safetensors
from opensora.utils.cli import run_cli
from opensora.utils.video_io import from_uint8
from tools.synthetic.generate import plan_videos
from tools.synthetic.world import World

logger = logging.getLogger(__name__)


def build_vae(spatial_channels=(8, 8, 16, 16), temporal_filters: int = 8, layers_per_block: int = 1,
              num_groups: int = 4, shift=None, scale=None):
    """The tiny VAE with the given sizes; returns (model, kwargs) where kwargs rebuild it exactly."""
    kwargs = dict(spatial=dict(block_out_channels=tuple(spatial_channels), layers_per_block=layers_per_block,
                               norm_num_groups=num_groups),
                  temporal=dict(filters=temporal_filters, num_groups=num_groups), micro_batch_size=None)
    if shift is not None:
        kwargs.update(shift=list(shift), scale=list(scale))
    return opensora_vae_v1_2_tiny(**kwargs), kwargs


def init_posterior_logvar(model, value: float) -> None:
    """Set the log-variance half of both posteriors' ``quant_conv`` biases to ``value`` (weights to 0).

    Why: at random initialisation both posteriors have std ~1 and the latents are mostly noise, so the
    decoder first learns the mean frame and training sits on that plateau; a small initial std starts
    training as a near-deterministic autoencoder, and the KL term still acts on the log-variance.
    """
    convs = (model.spatial_vae.module.quant_conv, model.temporal_vae.quant_conv.conv)
    with torch.no_grad():
        for conv in convs:
            half = conv.out_channels // 2
            conv.weight[half:].zero_()
            conv.bias[half:].fill_(value)


def render_pool(split: str, num_videos: int, num_frames: int, seed: int, width: int, height: int,
                progress: bool = True) -> torch.Tensor:
    """(V, 3, F, H, W) float32 in [-1, 1]: the first ``num_frames`` frames of ``num_videos`` videos."""
    jobs = plan_videos(split, num_videos, num_frames / 24.0, seed, width, height)
    videos = []
    for job in tqdm(jobs, desc=f"render {split}", disable=not progress):
        frames = np.stack(list(World(job.spec).frames(num_frames)))  # (F, H, W, 3) uint8
        videos.append(from_uint8(frames))
    return torch.stack(videos)


def sample_clips(pool: torch.Tensor, batch_size: int, clip_frames: int, generator: torch.Generator):
    """(B, 3, clip_frames, H, W): random videos of ``pool`` at random start frames."""
    num_videos, num_frames = pool.shape[0], pool.shape[2]
    if num_frames < clip_frames:
        raise ValueError(f"pool videos have {num_frames} frames, need >= {clip_frames}; raise --pool-frames")
    vids = torch.randint(num_videos, (batch_size,), generator=generator).tolist()
    starts = torch.randint(num_frames - clip_frames + 1, (batch_size,), generator=generator).tolist()
    return torch.stack([pool[v, :, s:s + clip_frames] for v, s in zip(vids, starts)])


def kl_standard_normal(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Mean over elements of KL(N(mean, exp(logvar)) || N(0, 1))."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()


def training_loss(model, x: torch.Tensor, generator: torch.Generator, kl_weight: float):
    """x: (B, 3, T, H, W) -> (loss, mse, kl), through the raw (un-normalised) latents of one chunk."""
    x_s = model.spatial_vae.encode(x, generator)
    posterior = model.temporal_vae.encode(x_s)
    z = posterior.sample(generator)
    x_rec = model.spatial_vae.decode(model.temporal_vae.decode(z, x.shape[2]))
    mse = torch.mean((x_rec - x) ** 2)
    kl = kl_standard_normal(posterior.mean, posterior.logvar)
    return mse + kl_weight * kl, mse, kl


def psnr(reference: torch.Tensor, reconstruction: torch.Tensor) -> float:
    """PSNR in dB of [-1, 1] tensors, on [0, 1] pixels with the reconstruction clamped, one global MSE."""
    ref = (reference.double() + 1.0) / 2.0
    rec = ((reconstruction.double() + 1.0) / 2.0).clamp(0.0, 1.0)
    mse = torch.mean((ref - rec) ** 2).item()
    return float("inf") if mse == 0 else 10.0 * math.log10(1.0 / mse)


@torch.no_grad()
def evaluate(model, clips: torch.Tensor, seed: int) -> tuple[float, torch.Tensor]:
    """Held-out PSNR through ``encode`` / ``decode``; also the raw latent means (B, 4, T', h, w)."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    z = model.encode(clips, generator)
    rec = model.decode(z, clips.shape[2])
    model.train()
    return psnr(clips, rec), z * model.scale + model.shift


def calibrate_normalisation(model, raw_latents: torch.Tensor) -> tuple[list, list]:
    """Set ``shift`` / ``scale`` to the per-channel mean / std of ``raw_latents`` (B, C, T, h, w)."""
    shift = raw_latents.mean(dim=(0, 2, 3, 4))
    scale = raw_latents.std(dim=(0, 2, 3, 4)).clamp_min(1e-3)
    model.shift.copy_(shift.reshape(model.shift.shape))
    model.scale.copy_(scale.reshape(model.scale.shape))
    return [round(float(v), 5) for v in shift], [round(float(v), 5) for v in scale]


def train(model, pool: torch.Tensor, eval_clips: torch.Tensor, args, progress: bool = True) -> list[dict]:
    """AdamW on ``training_loss``; returns the history [{step, seconds, loss, psnr}] of each evaluation."""
    generator = torch.Generator().manual_seed(args.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    history, start, window = [], time.perf_counter(), []
    bar = tqdm(range(1, args.steps + 1), desc="train tiny VAE", disable=not progress)
    for step in bar:
        x = sample_clips(pool, args.batch_size, model.micro_frame_size, generator)
        loss, mse, kl = training_loss(model, x, generator, args.kl_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        window.append(loss.item())
        bar.set_postfix(mse=f"{mse.item():.4f}", kl=f"{kl.item():.3f}")
        elapsed = time.perf_counter() - start
        out_of_time = args.max_minutes is not None and elapsed > 60 * args.max_minutes
        if step % args.eval_every == 0 or step == args.steps or out_of_time:
            value, _ = evaluate(model, eval_clips, args.seed)
            history.append(dict(step=step, seconds=round(elapsed, 1), loss=float(np.mean(window)),
                                psnr=round(value, 3)))
            logger.info("step %d  %.0f s  loss %.5f  held-out PSNR %.2f dB", step, elapsed, history[-1]["loss"],
                        value)
            bar.write(f"step {step}  {elapsed:.0f} s  loss {history[-1]['loss']:.5f}  PSNR {value:.2f} dB")
            window = []
        if out_of_time:
            break
    return history


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="output folder for model.safetensors and train_tiny_vae.json")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--kl-weight", type=float, default=1e-6)
    p.add_argument("--init-logvar", type=float, default=-8.0,
                   help="initial posterior log-variance (see init_posterior_logvar); 'nan' keeps the random init")
    p.add_argument("--seed", type=int, default=0, help="data seed (worlds) and training generator seed")
    p.add_argument("--width", type=int, default=96)
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--num-videos", type=int, default=24, help="train-split videos rendered into the pool")
    p.add_argument("--pool-frames", type=int, default=72, help="frames rendered per pool video")
    p.add_argument("--eval-videos", type=int, default=6, help="held-out videos (first clip each) for PSNR")
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--max-minutes", type=float, default=None, help="stop training after this wall time")
    p.add_argument("--spatial-channels", default="8,8,16,16", help="AutoencoderKL block_out_channels (4 levels)")
    p.add_argument("--temporal-filters", type=int, default=8)
    p.add_argument("--layers-per-block", type=int, default=1)
    p.add_argument("--num-groups", type=int, default=4)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    args.spatial_channels = tuple(int(c) for c in args.spatial_channels.split(","))
    if len(args.spatial_channels) != 4:
        p.error(f"--spatial-channels needs 4 levels (8x down-sampling), got {args.spatial_channels}")
    return args


def main(argv=None) -> Path:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args(argv)
    out, progress = Path(args.out), not args.no_progress
    # Why: the near-zero posterior std makes CPU steps crawl on denormal floats after a few hundred steps.
    torch.set_flush_denormal(True)
    torch.manual_seed(args.seed)  # parameter initialisation
    model, _ = build_vae(args.spatial_channels, args.temporal_filters, args.layers_per_block, args.num_groups)
    if not math.isnan(args.init_logvar):
        init_posterior_logvar(model, args.init_logvar)
    clip = model.micro_frame_size
    pool = render_pool("train", args.num_videos, args.pool_frames, args.seed, args.width, args.height, progress)
    eval_clips = render_pool("heldout", args.eval_videos, clip, args.seed, args.width, args.height, progress)
    start = time.perf_counter()
    history = train(model, pool, eval_clips, args, progress)
    wall = time.perf_counter() - start
    _, raw = evaluate(model, eval_clips, args.seed)
    shift, scale = calibrate_normalisation(model, raw)
    final_psnr, _ = evaluate(model, eval_clips, args.seed)
    _, kwargs = build_vae(args.spatial_channels, args.temporal_filters, args.layers_per_block, args.num_groups,
                          shift, scale)
    path = save_safetensors(model, out / "model.safetensors", metadata=dict(psnr=round(final_psnr, 3)))
    report = dict(type="OpenSoraVAE_V1_2-tiny", vae_kwargs=kwargs,
                  parameters=sum(p.numel() for p in model.parameters()), heldout_psnr=round(final_psnr, 3),
                  train_seconds=round(wall, 1), history=history,
                  args={k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()})
    (out / "train_tiny_vae.json").write_text(json.dumps(report, indent=2))
    logger.info("held-out PSNR %.2f dB after %.0f s; wrote %s", final_psnr, wall, path)
    return path


if __name__ == "__main__":
    sys.exit(run_cli(main))
