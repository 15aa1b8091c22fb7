"""Build the inference plan (a :class:`ChunkSchedule`) from a config's ``schedule`` dict.

A ``schedule`` dict names the sampler and its window in *frames* (sizes in latents come from the VAE):

=====  ===============================================  =========================================
type   keys (defaults in the builder signatures)         what it is (pavdm-method.md)
=====  ===============================================  =========================================
pa     window_frames, keep_x0, variable_length           PA-VDM progressive sampling (sections 2-4)
ad     window_frames, step_difference, keep_x0           AR-Diffusion AD (section 7)
rn     clip_frames, context_frames                       Open-Sora loop, replacement without noise
rw     clip_frames, context_frames                       replacement with noise (section 5)
=====  ===============================================  =========================================

Every plan uses the rectified-flow ``scheduler`` (RFlow) for the step count and the level transform, with
the ratio r of the model window (PA/AD) or clip (RN/RW), not of the long video.
"""
from __future__ import annotations

import inspect

from opensora.schedulers.noise_schedules import ad_inference_schedule, pa_inference_schedule, replacement_schedule
from opensora.schedulers.plan import ChunkSchedule

from .geometry import VideoGeometry

SCHEDULE_TYPES = ("pa", "ad", "rn", "rw")


def window_chunks(vae, geom: VideoGeometry, frames: int, what: str) -> int:
    """Chunks in a window of ``frames`` pixel frames; it must be a whole number of VAE chunks."""
    latents = vae.latent_frames(int(frames))
    if latents % geom.chunk_latents or latents == 0:
        raise ValueError(f"{what}={frames} frames gives {latents} latents, not a positive multiple of the "
                         f"{geom.chunk_latents}-latent chunk; use a multiple of {geom.chunk_frames} frames "
                         f"(e.g. {geom.chunk_frames * 7})")
    return latents // geom.chunk_latents


def _ratio(scheduler, geom: VideoGeometry, frames: int) -> float:
    return float(scheduler.ratio(geom.height, geom.width, int(frames)).flatten()[0])


def _noisy_chunks(vae, geom, window_frames: int, keep_x0: bool) -> int:
    k = window_chunks(vae, geom, window_frames, "window_frames") - int(keep_x0)
    if k < 1:
        raise ValueError(f"window_frames={window_frames} leaves no room for a noisy chunk next to the context; "
                         f"use at least {geom.chunk_frames * (1 + int(keep_x0))} frames")
    return k


def pa_plan(vae, geom, scheduler, has_reference: bool, window_frames: int = 119, keep_x0: bool = True,
            variable_length: bool = True) -> ChunkSchedule:
    """PA: K = window chunks - context; variable_length=False is the fixed-length start (K reference chunks)."""
    k = _noisy_chunks(vae, geom, window_frames, keep_x0)
    if not variable_length and not has_reference:
        raise ValueError(f"variable_length=False (fixed-length start) needs a reference clip of at least "
                         f"{k * geom.chunk_frames} frames (K = {k} chunks); give one or set variable_length=True")
    refs = (1 if variable_length else k) if has_reference else 0
    return pa_inference_schedule(geom.num_chunks, ratio=_ratio(scheduler, geom, window_frames),
                                 chunk_size=geom.chunk_latents, num_noisy_chunks=k,
                                 num_steps=scheduler.num_sampling_steps, num_ref_chunks=refs, keep_x0=keep_x0,
                                 fixed_start=not variable_length)


def ad_plan(vae, geom, scheduler, has_reference: bool, window_frames: int = 119, step_difference: int = 6,
            keep_x0: bool = True) -> ChunkSchedule:
    """AD with ``step_difference`` s (PA is s = S / K); at most K chunks may be active in the window."""
    k = _noisy_chunks(vae, geom, window_frames, keep_x0)
    return ad_inference_schedule(geom.num_chunks, ratio=_ratio(scheduler, geom, window_frames),
                                 step_difference=step_difference, chunk_size=geom.chunk_latents,
                                 num_steps=scheduler.num_sampling_steps, num_ref_chunks=int(has_reference),
                                 num_context=int(keep_x0), max_active_chunks=k)


def replacement_plan(vae, geom, scheduler, has_reference: bool, context_mode: str, clip_frames: int = 51,
                     context_frames: int = 17) -> ChunkSchedule:
    """RN (``context_mode="clean"``) / RW (``"renoise"``): clip by clip, ``context_frames`` carried over."""
    clip = window_chunks(vae, geom, clip_frames, "clip_frames")
    ctx = window_chunks(vae, geom, context_frames, "context_frames")
    return replacement_schedule(geom.num_chunks, ratio=_ratio(scheduler, geom, clip_frames),
                                clip_latents=clip * geom.chunk_latents, context_latents=ctx * geom.chunk_latents,
                                chunk_size=geom.chunk_latents, num_steps=scheduler.num_sampling_steps,
                                num_ref_chunks=ctx if has_reference else 0, context_mode=context_mode)


def build_plan(schedule_cfg: dict, *, vae, geom: VideoGeometry, scheduler, has_reference: bool) -> ChunkSchedule:
    """The plan for one batch: ``schedule_cfg`` is the config's ``schedule`` dict (see the module docstring)."""
    cfg = dict(schedule_cfg)
    kind = cfg.pop("type", None)
    if kind not in SCHEDULE_TYPES:
        raise ValueError(f"schedule.type={kind!r}; use one of {SCHEDULE_TYPES}")
    builder = {"pa": pa_plan, "ad": ad_plan}.get(kind, replacement_plan)
    known = [n for n in inspect.signature(builder).parameters
             if n not in ("vae", "geom", "scheduler", "has_reference", "context_mode")]
    unknown = sorted(set(cfg) - set(known))
    if unknown:
        raise ValueError(f"schedule.type={kind!r} has no option(s) {unknown}; its options are {known}")
    if builder is replacement_plan:
        cfg["context_mode"] = "clean" if kind == "rn" else "renoise"
    return builder(vae, geom, scheduler, has_reference, **cfg)


def reference_frames(schedule: ChunkSchedule, geom: VideoGeometry) -> int:
    """Pixel frames of reference the plan needs (its reference latents, in whole VAE chunks)."""
    latents = schedule.num_ref_chunks * schedule.chunk_size
    return -(-latents // geom.chunk_latents) * geom.chunk_frames
