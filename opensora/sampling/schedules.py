"""Build the inference plan (a :class:`ChunkSchedule`) from a config's ``schedule`` dict.

A ``schedule`` dict names the sampler (a builder registered in ``opensora.registry.PLANS``) and its window
in *frames* (sizes in latents come from the VAE):

=====  ===============================================  =========================================
type   keys (defaults in the builder signatures)         what it is (pavdm-method.md)
=====  ===============================================  =========================================
pa     window_frames, keep_x0, fixed_start               PA-VDM progressive sampling (sections 2-4)
ad     window_frames, step_difference, keep_x0           AR-Diffusion AD (section 7)
rn     clip_frames, context_frames                       Open-Sora loop, replacement without noise
rw     clip_frames, context_frames                       replacement with noise (section 5)
=====  ===============================================  =========================================

Every builder takes the run's parts as keywords (``vae``, ``geom``, ``scheduler``, ``has_reference``) plus its
options. Every plan uses the rectified-flow ``scheduler`` (RFlow) for the step count and the level transform,
with the ratio r of the model window (PA/AD) or clip (RN/RW), not of the long video.
"""
from __future__ import annotations

import inspect

from opensora.registry import PLANS, build_module
from opensora.schedulers.noise_schedules import ad_inference_schedule, pa_inference_schedule, replacement_schedule
from opensora.schedulers.plan import ChunkSchedule

from .geometry import VideoGeometry

# what build_plan passes to every builder (the rest of a builder's keywords are its config options)
RUN_PARTS = ("vae", "geom", "scheduler", "has_reference")


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


@PLANS.register_module("pa")
def pa_plan(*, vae, geom, scheduler, has_reference: bool, window_frames: int = 119, keep_x0: bool = True,
            fixed_start: bool = False) -> ChunkSchedule:
    """PA: K = window chunks - context; ``fixed_start`` starts in steady state from K reference chunks."""
    k = _noisy_chunks(vae, geom, window_frames, keep_x0)
    if fixed_start and not has_reference:
        raise ValueError(f"fixed_start=True (fixed-length start) needs a reference clip of at least "
                         f"{k * geom.chunk_frames} frames (K = {k} chunks); give one or set fixed_start=False")
    refs = (k if fixed_start else 1) if has_reference else 0
    return pa_inference_schedule(geom.num_chunks, ratio=_ratio(scheduler, geom, window_frames),
                                 chunk_size=geom.chunk_latents, num_noisy_chunks=k,
                                 num_steps=scheduler.num_sampling_steps, num_ref_chunks=refs, keep_x0=keep_x0,
                                 fixed_start=fixed_start)


@PLANS.register_module("ad")
def ad_plan(*, vae, geom, scheduler, has_reference: bool, window_frames: int = 119, step_difference: int = 6,
            keep_x0: bool = True) -> ChunkSchedule:
    """AD with ``step_difference`` s (PA is s = S / K); at most K chunks may be active in the window."""
    k = _noisy_chunks(vae, geom, window_frames, keep_x0)
    return ad_inference_schedule(geom.num_chunks, ratio=_ratio(scheduler, geom, window_frames),
                                 step_difference=step_difference, chunk_size=geom.chunk_latents,
                                 num_steps=scheduler.num_sampling_steps, num_ref_chunks=int(has_reference),
                                 num_context=int(keep_x0), max_active_chunks=k)


def replacement_plan(*, vae, geom, scheduler, has_reference: bool, context_mode: str, clip_frames: int = 51,
                     context_frames: int = 17) -> ChunkSchedule:
    """RN (``context_mode="clean"``) / RW (``"renoise"``): clip by clip, ``context_frames`` carried over."""
    clip = window_chunks(vae, geom, clip_frames, "clip_frames")
    ctx = window_chunks(vae, geom, context_frames, "context_frames")
    return replacement_schedule(geom.num_chunks, ratio=_ratio(scheduler, geom, clip_frames),
                                clip_latents=clip * geom.chunk_latents, context_latents=ctx * geom.chunk_latents,
                                chunk_size=geom.chunk_latents, num_steps=scheduler.num_sampling_steps,
                                num_ref_chunks=ctx if has_reference else 0, context_mode=context_mode)


@PLANS.register_module("rn")
def rn_plan(*, vae, geom, scheduler, has_reference: bool, clip_frames: int = 51,
            context_frames: int = 17) -> ChunkSchedule:
    """RN, the Open-Sora loop: the carried-over context stays clean."""
    return replacement_plan(vae=vae, geom=geom, scheduler=scheduler, has_reference=has_reference,
                            context_mode="clean", clip_frames=clip_frames, context_frames=context_frames)


@PLANS.register_module("rw")
def rw_plan(*, vae, geom, scheduler, has_reference: bool, clip_frames: int = 51,
            context_frames: int = 17) -> ChunkSchedule:
    """RW: the carried-over context is forward-noised to the clip's level at every step."""
    return replacement_plan(vae=vae, geom=geom, scheduler=scheduler, has_reference=has_reference,
                            context_mode="renoise", clip_frames=clip_frames, context_frames=context_frames)


def _check_schedule_cfg(cfg: dict) -> None:
    """``schedule.type`` is registered and every other key is an option of its builder."""
    if not isinstance(cfg, dict):
        raise ValueError(f"schedule={cfg!r} must be a dict with a 'type', e.g. schedule=dict(type='pa') "
                         f"(on the command line: --cfg-options schedule.type=pa)")
    PLANS.import_from_location()
    kind = cfg.get("type")
    if kind not in PLANS.module_dict:
        raise ValueError(f"schedule.type={kind!r}; use one of {sorted(PLANS.module_dict)}")
    known = [n for n in inspect.signature(PLANS.get(kind)).parameters if n not in RUN_PARTS]
    unknown = sorted(set(cfg) - set(known) - {"type"})
    if unknown:
        raise ValueError(f"schedule.type={kind!r} has no option(s) {unknown}; its options are {known}")


def build_plan(schedule_cfg: dict, *, vae, geom: VideoGeometry, scheduler, has_reference: bool) -> ChunkSchedule:
    """The plan for one batch: ``schedule_cfg`` is the config's ``schedule`` dict (see the module docstring)."""
    _check_schedule_cfg(schedule_cfg)
    return build_module(dict(schedule_cfg), PLANS, config_key="schedule", vae=vae, geom=geom, scheduler=scheduler,
                        has_reference=has_reference)
