"""Long-video generation from Python: :class:`LongVideoPipeline` (README "Python API").

    pipe = LongVideoPipeline.from_config("configs/pavdm/infer_60s_tiny.py", **{"scheduler.num_sampling_steps": 12})
    for chunk in pipe.stream("a red fox", seconds=10): ...    # ChunkRecord(index, frames, latents) per chunk
    paths = pipe(["a red fox", "a cat||clip.mp4"], save_dir="samples")  # mp4 + json per video, resumable
    record = pipe.plan("a red fox")                             # the dry-run record (plan.json)

One batch of videos (all share one plan, so a batch is all text-only or all with a reference):

1. plan: ``build_plan`` of the config's ``schedule`` for the batch's start (text only, or reference chunks);
2. references: read, resize-crop and VAE-encode (seeded with each video's generator);
3. captions: encode every timeline prompt once; the CFG denoiser picks each window's caption;
4. sample: ``SlidingWindowSampler`` yields finished chunks; each is decoded by the VAE (17 frames per 5
   latents) and handed on at once (``stream``: yielded; ``__call__``: saved for resuming and appended to the
   video's mp4), so memory does not grow with length;
5. finish (``__call__``): close the mp4s (cut to ``frames_kept``), optionally save the latents, write a
   ``.json`` sidecar per video, remove the resume files.
"""
from __future__ import annotations

import dataclasses
import difflib
import logging
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from tqdm.auto import tqdm

from opensora.acceleration.parallel_states import (broadcast_from_writer, data_parallel_shard, get_parallel_groups,
                                                   is_group_writer, sequence_parallel_model_config)
from opensora.models.text_encoder import encode_then_offload
from opensora.models.text_encoder.offload import run_texts
from opensora.registry import MODELS, SCHEDULERS, build_module
from opensora.schedulers.plan import ChunkSchedule
from opensora.schedulers.rectified_flow import RFlow
from opensora.utils import dist
from opensora.utils.config import apply_overrides, check_top_level_keys, load_config, to_dict
from opensora.utils.dtype import as_dtype
from opensora.utils.files import DirLock, disk_errors, prepare_output_dir
from opensora.utils.video_io import Mp4Writer, to_uint8

from . import checks, plan_export
from .conditioning import encode_captions, make_denoiser
from .geometry import VideoGeometry, image_size_for, video_geometry
from .prompts import PromptItem, parse_prompt
from .references import check_references, encode_references
from .resume import ResumeStore
from .schedules import build_plan
from .sliding_window import SlidingWindowSampler, check_entry_levels
from .video_files import (ChunkSink, VideoJob, batch_fingerprint, chunk_decoder, finish_batch, is_done, make_batches,
                          make_jobs, seam_record)

logger = logging.getLogger(__name__)

Prompt = Union[str, PromptItem]

# every key an inference config holds (tests/configs checks that configs have exactly these; from_config
# refuses any other, so a misspelt key in a config file is an error, not silently ignored)
CONFIG_KEYS = {"model", "vae", "text_encoder", "scheduler", "schedule", "cfg_scale", "num_frames", "resolution",
               "aspect_ratio", "image_size", "fps", "whole_seconds", "prompt", "prompt_path", "reference_path",
               "reference_side", "num_sample", "batch_size", "seed", "dtype", "save_dir", "save_state_every",
               "crf", "save_latents", "progress", "sp_size", "text_encoder_offload"}


@dataclass(frozen=True, kw_only=True)
class Networks:
    """The built components. ``model`` and ``text_encoder`` are None in a planning-only pipeline
    (``from_config(..., dry_run=True)``, whose VAE is its architecture on the meta device)."""

    vae: Any
    scheduler: Any
    model: Any = None
    text_encoder: Any = None


@dataclass(frozen=True, kw_only=True)
class VideoSettings:
    """What a video is: pixel size (H, W), default length (frames, or seconds such as "60s"), frame rate, and
    whether to keep whole seconds (1445 generated frames -> 1440 written)."""

    image_size: tuple = (240, 426)
    num_frames: Union[int, str] = 1445
    fps: int = 24
    whole_seconds: bool = True

    def __post_init__(self):
        checks.check_video_settings(self)


@dataclass(frozen=True, kw_only=True)
class SamplingSettings:
    """How videos are sampled: the plan (a config ``schedule`` dict, see ``schedules.py``), CFG scale, which end
    of a reference clip conditions, videos per prompt, videos per batch, base seed (video j: seed + j)."""

    schedule: dict = field(default_factory=lambda: {"type": "pa"})
    cfg_scale: float = 7.0
    reference_side: str = "first"
    num_sample: int = 1
    batch_size: int = 1
    seed: int = 42

    def __post_init__(self):
        checks.check_sampling_settings(self)


@dataclass(frozen=True, kw_only=True)
class OutputSettings:
    """What ``__call__`` writes: resume-state period (emitted chunks), x264 quality, latents, progress bar, and
    ``fingerprint`` (weights, config), recorded in every sidecar and resume state."""

    save_state_every: int = 1
    crf: int = 18
    save_latents: bool = False
    progress: bool = True
    fingerprint: dict = field(default_factory=dict)

    def __post_init__(self):
        checks.check_output_settings(self)


SETTINGS = (VideoSettings, SamplingSettings, OutputSettings)


@dataclass(frozen=True)
class ChunkRecord:
    """One finished chunk of a streamed video.

    ``frames``: (F, H, W, 3) uint8 RGB, F = 17 (a VAE chunk) except at the end, where the video is cut to the
    geometry's ``frames_kept`` (F may then be 0). ``latents``: (C_z, C, h, w) fp32 on the CPU.
    """

    index: int
    frames: np.ndarray
    latents: torch.Tensor


def _split_settings(settings: dict) -> list:
    """``settings`` (field names of the three settings classes) -> one instance of each, by keyword."""
    names = {f.name: cls for cls in SETTINGS for f in dataclasses.fields(cls)}
    unknown = sorted(set(settings) - set(names))
    if unknown:
        close = {k: difflib.get_close_matches(k, names, n=1) for k in unknown}
        hints = "; ".join(f"{k!r} (did you mean {c[0]!r}?)" if c else repr(k) for k, c in close.items())
        raise TypeError(f"unknown pipeline setting(s) {hints}; the settings are {sorted(names)}")
    return [cls(**{k: v for k, v in settings.items() if names[k] is cls}) for cls in SETTINGS]


def _build_networks(cfg: Config, device, dry_run: bool) -> Networks:
    """VAE, scheduler, model, text encoder from ``cfg`` (in that order: random inits draw in sequence)."""
    dtype = as_dtype(cfg.dtype)
    scheduler = build_module(to_dict(cfg.scheduler), SCHEDULERS, config_key="scheduler")
    if dry_run:  # the VAE's architecture only, on the meta device: sizes, no weights, no memory
        with torch.device("meta"):
            return Networks(vae=build_module(dict(to_dict(cfg.vae), from_pretrained=None), MODELS, config_key="vae"),
                            scheduler=scheduler)
    vae = build_module(to_dict(cfg.vae), MODELS, config_key="vae").to(device, dtype).eval()
    model_cfg = sequence_parallel_model_config(to_dict(cfg.model), cfg.sp_size)
    model = build_module(model_cfg, MODELS, config_key="model").to(device, dtype).eval()
    text_encoder = build_module(to_dict(cfg.text_encoder), MODELS, config_key="text_encoder", device=device)
    return Networks(vae=vae, scheduler=scheduler, model=model, text_encoder=text_encoder)


def check_size_keys(cfg: Config, given) -> None:
    """``resolution`` / ``aspect_ratio`` set (``given``: the keys a user set on top of the config file) while
    ``image_size`` is set would be ignored: an error, not a silent no-op."""
    ignored = [k for k in ("resolution", "aspect_ratio") if k in given]
    if ignored and cfg.image_size is not None:
        names = " and ".join(f"{k}={cfg[k]!r}" for k in ignored)
        flags = " / ".join(f"--{k.replace('_', '-')}" for k in ignored)
        raise ValueError(f"{names} would be ignored: image_size={tuple(cfg.image_size)} is set and takes "
                         f"precedence; drop {flags}, or also pass --cfg-options image_size=None (Python: "
                         f"image_size=None) to size the video from resolution / aspect_ratio")


def _image_size(cfg: Config) -> tuple:
    if cfg.image_size is not None:
        return checks.check_image_size(cfg.image_size)
    return image_size_for(cfg.resolution, cfg.aspect_ratio)


def _settings_from_config(cfg: Config) -> dict:
    """The pipeline settings of an inference config (the CLI's prompt, file and save_dir keys are not)."""
    fingerprint = {"model": cfg.model.get("from_pretrained"), "config": Path(cfg.filename).name,
                   "dtype": cfg.dtype}
    return dict(image_size=_image_size(cfg),
                num_frames=cfg.num_frames, fps=cfg.fps, whole_seconds=cfg.whole_seconds,
                schedule=to_dict(cfg.schedule), cfg_scale=cfg.cfg_scale, reference_side=cfg.reference_side,
                num_sample=cfg.num_sample, batch_size=cfg.batch_size, seed=cfg.seed,
                save_state_every=cfg.save_state_every, crf=cfg.crf, save_latents=cfg.save_latents,
                progress=cfg.progress, fingerprint=fingerprint)


class LongVideoPipeline:
    """PA-VDM (and baseline) long-video generation from built networks and settings.

    Build it with :meth:`from_config` (an inference config, as ``scripts/inference.py`` reads it) or
    :meth:`from_components` (your own networks). Each video is seeded on its own (``torch.Generator``), so a
    video's result does not depend on batching, on the number of ranks or on other videos.
    """

    def __init__(self, networks: Networks, *, video: VideoSettings, sampling: SamplingSettings,
                 output: OutputSettings, device=None):
        self.networks, self.video, self.sampling, self.output = networks, video, sampling, output
        self.device = torch.device(device) if device is not None else torch.device("cpu")

    # ---- construction ------------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: Union[str, Path, Config], *, dry_run: bool = False, device=None,
                    **overrides) -> "LongVideoPipeline":
        """Build networks, scheduler and settings from an inference config.

        Args:
            config: a config file (``configs/pavdm/infer_60s.py``) or a loaded mmengine ``Config``.
            overrides: dotted config keys, e.g. ``**{"scheduler.num_sampling_steps": 12, "cfg_scale": 4.0}``;
                a key the config does not define raises ``ConfigKeyError`` naming the closest keys.
            dry_run: build only what planning needs (no weights are read): :meth:`plan` works, generating
                does not.
            device: default: this process's device (``cuda:LOCAL_RANK``, else the CPU; joins the ``torchrun``
                process group if there is one).
        """
        cfg = load_config(config) if not isinstance(config, Config) else config
        apply_overrides(cfg, overrides)
        check_top_level_keys(cfg, CONFIG_KEYS, "inference config")
        check_size_keys(cfg, overrides)
        settings = _split_settings(_settings_from_config(cfg))  # checked before anything is built
        device = torch.device(device) if device is not None else dist.init_distributed().device
        with torch.random.fork_rng(devices=[]):  # random inits (weight-less networks) repeat; global RNG kept
            torch.manual_seed(cfg.seed)
            networks = _build_networks(cfg, device, dry_run)
        return cls(networks, **dict(zip(("video", "sampling", "output"), settings)), device=device)

    @classmethod
    def from_components(cls, *, model, vae, text_encoder, scheduler=None, device=None,
                        **settings) -> "LongVideoPipeline":
        """A pipeline over networks you built (on ``device``, in eval mode).

        ``scheduler`` defaults to ``RFlow()``; ``settings`` are fields of :class:`VideoSettings`,
        :class:`SamplingSettings` and :class:`OutputSettings` (e.g. ``image_size=(64, 96), schedule={"type":
        "pa", "window_frames": 68}, cfg_scale=2.0``); their defaults are the 60-s PA-VDM setting.
        """
        networks = Networks(vae=vae, scheduler=scheduler if scheduler is not None else RFlow(), model=model,
                            text_encoder=text_encoder)
        video, sampling, output = _split_settings(settings)
        return cls(networks, video=video, sampling=sampling, output=output, device=device)

    # ---- sizes and plans ---------------------------------------------------------------------------
    def geometry(self, *, seconds: Optional[float] = None, num_frames: Optional[int] = None) -> VideoGeometry:
        """Sizes of a video of ``seconds`` or ``num_frames`` (default: the settings' ``num_frames``)."""
        if seconds is not None and num_frames is not None:
            raise ValueError(f"seconds={seconds} and num_frames={num_frames}: give one length, not both")
        length = self.video.num_frames if num_frames is None else num_frames
        length = f"{seconds}s" if seconds is not None else length
        v = self.video
        return video_geometry(self.networks.vae, v.image_size, length, v.fps, v.whole_seconds)

    def _plan(self, geom: VideoGeometry, has_reference: bool) -> ChunkSchedule:
        """The plan of a batch, checked as the sampler checks it (every generated chunk starts at 1000)."""
        schedule = build_plan(self.sampling.schedule, vae=self.networks.vae, geom=geom,
                              scheduler=self.networks.scheduler, has_reference=has_reference)
        check_entry_levels(schedule)
        return schedule

    def check(self, prompts: Union[Prompt, Sequence[Prompt]], *, seconds: Optional[float] = None,
              num_frames: Optional[int] = None) -> VideoGeometry:
        """Everything a run checks before sampling, for every video: the plan of each start (text only, with a
        reference), every reference (readable, long enough) and every timeline (no segment after the end).
        Needs no weights (works on a ``dry_run`` pipeline); returns the geometry. Raises ``ValueError``."""
        items = [_item(p) for p in ([prompts] if isinstance(prompts, (str, PromptItem)) else prompts)]
        geom = self.geometry(seconds=seconds, num_frames=num_frames)
        checks.check_timelines(items, geom)
        refs = [i.reference for i in items if i.reference is not None]
        if len(refs) < len(items) or not items:
            self._plan(geom, False)
        if refs:
            check_references(refs, self._plan(geom, True), geom, self.sampling.reference_side)
        return geom

    def plan(self, prompt: Optional[Prompt] = None, *, seconds: Optional[float] = None,
             num_frames: Optional[int] = None, reference: Optional[str] = None) -> dict:
        """The dry-run record (``plan.json``) of one video: every model call's levels, window and emitted
        latents. A reference (``reference`` or the prompt's ``||clip``) is read and checked, and a timeline
        against the length; nothing else is loaded."""
        item = None if prompt is None else _item(prompt, reference)
        ref = reference if item is None else item.reference
        geom = self.geometry(seconds=seconds, num_frames=num_frames)
        if item is not None:
            checks.check_timeline(item, geom)
        schedule = self._plan(geom, ref is not None)
        if ref is not None:
            check_references([ref], schedule, geom, self.sampling.reference_side)
        return plan_export.plan_record(schedule, geom)

    # ---- sampling ----------------------------------------------------------------------------------
    def shard(self, jobs: list) -> list:
        """The videos this process generates: the one place that splits work over processes (round robin over
        the data-parallel groups, ``opensora.acceleration.parallel_states``: every video goes to exactly one
        group, and all ranks of a sequence-parallel group generate the same videos; without sequence
        parallelism a group is one ``torchrun`` rank)."""
        return data_parallel_shard(jobs, get_parallel_groups())

    def offload_text_encoder(self, prompts: Union[Prompt, Sequence[Prompt]], mode: str = "free") -> None:
        """Encode every caption of this process's videos of ``prompts`` now, then release the text encoder
        (``encode_then_offload``; ``mode="cpu"`` keeps it on the CPU for prompts not given here)."""
        self._check_ready()
        items = [_item(p) for p in ([prompts] if isinstance(prompts, (str, PromptItem)) else prompts)]
        mine = self.shard(make_jobs(items, self.sampling.num_sample, self.sampling.seed))
        encoder = encode_then_offload(self.networks.text_encoder, run_texts(j.prompt for j in mine), mode=mode)
        self.networks = dataclasses.replace(self.networks, text_encoder=encoder)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _check_ready(self) -> None:
        if self.networks.model is None or self.networks.text_encoder is None:
            raise ValueError("this pipeline has no diffusion model or text encoder (built with dry_run=True?): it "
                             "can only plan(); build it with from_config(..., dry_run=False) to generate")

    def _denoiser(self, jobs: list, geom: VideoGeometry):
        n = self.networks
        captions = encode_captions(n.text_encoder, [j.prompt for j in jobs], num_chunks=geom.num_chunks,
                                   chunk_size=geom.chunk_latents, chunk_seconds=geom.chunk_seconds,
                                   device=self.device)
        y_null = n.text_encoder.null(len(jobs), n.model).to(self.device)
        return make_denoiser(n.model, captions, y_null, self.sampling.cfg_scale, fps=geom.fps,
                             height=geom.height, width=geom.width)

    def _sampler(self, jobs: list, geom: VideoGeometry, schedule: ChunkSchedule, *, state=None,
                 on_call=None) -> SlidingWindowSampler:
        """The sampler of one batch: per-video generators, reference latents (unless resuming), CFG denoiser."""
        gens = [torch.Generator(self.device).manual_seed(j.seed) for j in jobs]
        reference = None
        if state is None:
            reference = encode_references(self.networks.vae, [j.prompt.reference for j in jobs], schedule, geom,
                                          side=self.sampling.reference_side, generators=gens, device=self.device)
        return SlidingWindowSampler(schedule, self._denoiser(jobs, geom), latent_shape=geom.latent_shape,
                                    generators=gens, reference=reference, device=self.device, on_call=on_call,
                                    state=state)

    def _progress(self, jobs: list, schedule: ChunkSchedule, start: int):
        """A tqdm bar on rank 0 (model calls, ETA, the latent window) and its ``on_call`` callback."""
        label = jobs[0].name + (f" (+{len(jobs) - 1})" if len(jobs) > 1 else "")
        bar = tqdm(total=schedule.num_iterations, initial=start, desc=label, unit="call", dynamic_ncols=True,
                   disable=not (self.output.progress and dist.is_main_process()))
        c = schedule.chunk_size

        def on_call(step) -> None:
            bar.update(1)
            bar.set_postfix(window=f"{step.window[0] * c}-{(step.window[-1] + 1) * c}", refresh=False)

        return bar, on_call

    @torch.inference_mode()
    def stream(self, prompt: Prompt, *, seconds: Optional[float] = None, num_frames: Optional[int] = None,
               seed: int = 0, reference: Optional[str] = None) -> Iterator[ChunkRecord]:
        """Generate one video and yield a :class:`ChunkRecord` per chunk as soon as the sampler finishes it.

        Args:
            prompt: a prompt entry ("text", a timeline "a|0| b|20|", "text||clip.mp4") or a ``PromptItem``.
            seconds / num_frames: the length (default: the settings' ``num_frames``).
            seed: the video's generator seed.
            reference: a clip or image to extend (its first frames, or its last with ``reference_side="last"``);
                overrides the prompt's own ``||clip``. The video then begins with its reconstruction.
        Nothing but the sampler's window and the current chunk is held in memory.
        """
        self._check_ready()
        job = VideoJob("stream", _item(prompt, reference), checks.check_seed(seed))
        geom = self.geometry(seconds=seconds, num_frames=num_frames)
        checks.check_timeline(job.prompt, geom)
        schedule = self._plan(geom, job.has_reference)
        bar, on_call = self._progress([job], schedule, 0)
        sampler, emitted = self._sampler([job], geom, schedule, on_call=on_call), 0
        decode = chunk_decoder(self.networks.vae, self.device)
        try:
            for chunk in sampler:
                video = decode(chunk.latents)[0]
                take = max(0, min(video.shape[1], geom.frames_kept - emitted))
                emitted += take
                yield ChunkRecord(chunk.index, to_uint8(video[:, :take]), chunk.latents[0].float().cpu().clone())
        finally:
            bar.close()

    @torch.inference_mode()
    def __call__(self, prompts: Union[Prompt, Sequence[Prompt]], *, save_dir, resume: bool = False,
                 seconds: Optional[float] = None, num_frames: Optional[int] = None,
                 seed: Optional[int] = None) -> list:
        """Write ``save_dir/sample_XXXX.mp4`` + ``.json`` (+ ``.latents.pt``) per video, as the CLI does.

        Every prompt gets ``num_sample`` videos; video j uses ``seed + j`` (default: the settings' seed).
        Under ``torchrun`` each data-parallel group writes its share (:meth:`shard`) from its writer rank. With
        ``resume``, finished videos are skipped and interrupted batches continue from their saved state (bit
        for bit). Returns the mp4 paths this process wrote (none on the other ranks of an SP group).
        """
        self._check_ready()
        items = [_item(p) for p in ([prompts] if isinstance(prompts, (str, PromptItem)) else prompts)]
        if not items:
            raise ValueError("no prompts: give at least one prompt (--prompt 'text' or --prompt-path FILE)")
        seed = checks.check_seed(self.sampling.seed if seed is None else seed)
        jobs = make_jobs(items, self.sampling.num_sample, seed)
        if jobs[-1].seed > checks.MAX_SEED:
            raise ValueError(f"seed={seed}: video j uses seed + j, and the last of {len(jobs)} videos would exceed "
                             f"{checks.MAX_SEED}; use a smaller --seed")
        mine = self.shard(jobs)
        geom = self.check([j.prompt for j in mine] or items, seconds=seconds, num_frames=num_frames)
        groups = get_parallel_groups()
        logger.info("rank %d/%d (data-parallel group %d of %d): %d of %d videos; %s", dist.get_rank(),
                    dist.get_world_size(), groups.dp_rank, groups.dp_size, len(mine), len(jobs), geom)
        save_dir = prepare_output_dir(save_dir)
        with DirLock(save_dir, dist.get_rank()), disk_errors(save_dir, "free some space or choose another "
                                                             "--save-dir, then rerun with --resume"):
            batches = make_batches(mine, self.sampling.batch_size)
            return [p for batch in batches for p in self._write_batch(batch, geom, save_dir, resume)]

    # ---- one batch to files ------------------------------------------------------------------------
    def _store(self, jobs: list, geom: VideoGeometry, schedule: ChunkSchedule, save_dir: Path) -> ResumeStore:
        fingerprint = batch_fingerprint(jobs, schedule, geom, self.sampling.cfg_scale, self.output.fingerprint)
        return ResumeStore(save_dir / ".resume" / jobs[0].name, fingerprint, self.output.save_state_every)

    def _resume_point(self, jobs: list, schedule: ChunkSchedule, store: ResumeStore, save_dir: Path,
                      resume: bool) -> tuple:
        """(finished, sampler state or None) of a batch, decided from its files (before anything is written)."""
        if resume and is_done(save_dir, jobs, store):
            logger.info("skipping %s: already finished (same run fingerprint)", ", ".join(j.name for j in jobs))
            return True, None
        state = store.load_state() if resume else None
        if state is None:
            store.clear()
        else:
            logger.info("resuming %s from %s: %d of %d chunks done, model call %d of %d",
                        ", ".join(j.name for j in jobs), store.state_path, state.num_yielded, schedule.num_chunks,
                        state.iteration, schedule.num_iterations)
        return False, state

    def _write_batch(self, jobs: list, geom: VideoGeometry, save_dir: Path, resume: bool) -> list:
        """Generate the videos of ``jobs`` into ``save_dir`` (see the module docstring); returns the mp4 paths.

        Under sequence parallelism every rank of the group samples (the model calls are collective), the
        group writer alone reads and writes the files: it decides skip / resume and sends the state to the
        others (``broadcast_from_writer``), which then only sample and return no paths.
        """
        schedule = self._plan(geom, jobs[0].has_reference)
        store = self._store(jobs, geom, schedule, save_dir)
        writer = is_group_writer()
        done, state = broadcast_from_writer(lambda: self._resume_point(jobs, schedule, store, save_dir, resume))
        paths = [save_dir / f"{j.name}.mp4" for j in jobs] if writer else []
        if done:
            return paths
        bar, on_call = self._progress(jobs, schedule, 0 if state is None else state.iteration)
        sampler = self._sampler(jobs, geom, schedule, state=state, on_call=on_call)
        if not writer:
            for _ in sampler:  # the writer of the group saves and decodes the same chunks
                pass
            bar.close()
            return paths
        with ExitStack() as stack:
            writers = [stack.enter_context(Mp4Writer(p, geom.fps, geom.frames_kept, self.output.crf)) for p in paths]
            sink = ChunkSink(self.networks.vae, writers, store, self.device)
            sink.replay(0 if state is None else state.num_yielded)
            for chunk in sampler:
                sink.write(chunk)
                if store.due(sampler.num_yielded):
                    store.save_state(sampler.state())
            bar.close()
        finish_batch(save_dir, jobs, schedule, geom, writers, store, save_latents=self.output.save_latents,
                     run=self.output.fingerprint, seams=seam_record(self.networks.vae, geom, schedule),
                     settings=self._reproduce(geom))
        return paths

    def _reproduce(self, geom: VideoGeometry) -> dict:
        """The sidecar's settings that, with prompt, seed, weights and config, reproduce a video."""
        sched = self.networks.scheduler
        scheduler = {k: getattr(sched, k) for k in ("num_sampling_steps", "use_timestep_transform",
                                                    "transform_scale", "bf16_ratio") if hasattr(sched, k)}
        return {"image_size": list(geom.image_size), "num_frames_requested": geom.num_frames,
                "whole_seconds": self.video.whole_seconds, "cfg_scale": self.sampling.cfg_scale,
                "num_sampling_steps": scheduler.get("num_sampling_steps"), "schedule": dict(self.sampling.schedule),
                "scheduler": {"type": type(sched).__name__, **scheduler},
                "reference_side": self.sampling.reference_side, "crf": self.output.crf,
                "sp_size": get_parallel_groups().sp_size}


def _item(prompt: Prompt, reference: Optional[str] = None) -> PromptItem:
    """A ``PromptItem`` from a prompt entry or an item; ``reference`` replaces the item's own."""
    item = prompt if isinstance(prompt, PromptItem) else parse_prompt(str(prompt), "prompt")
    return item if reference is None else dataclasses.replace(item, reference=str(reference))
