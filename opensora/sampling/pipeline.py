"""Long-video generation for a batch of prompts: plan, sample, decode and write each chunk as it finishes.

Per batch (all videos share one plan, so a batch is all text-only or all with a reference):

1. plan: ``build_plan`` for the batch's start (text only, or reference chunks);
2. references: read, resize-crop and VAE-encode (seeded with each video's generator);
3. captions: encode every timeline prompt once; the CFG denoiser picks each window's caption;
4. sample: ``SlidingWindowSampler`` yields finished chunks; each is saved for resuming, decoded by the VAE
   (17 frames per 5 latents) and appended to the video's mp4 at once, so memory does not grow with length;
5. finish: close the mp4s (cut to ``frames_kept``), optionally save the latents, write a ``.json`` sidecar
   per video, remove the resume files.
"""
from __future__ import annotations

import json
import logging
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
from tqdm.auto import tqdm

from opensora.utils import dist
from opensora.utils.prompts import PromptItem
from opensora.utils.video_io import Mp4Writer, read_reference

from .conditioning import encode_captions, make_denoiser
from .geometry import VideoGeometry
from .resume import ResumeStore
from .schedules import build_plan, reference_frames
from .sliding_window import FinishedChunk, SlidingWindowSampler

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoJob:
    """One output video: ``name`` (file stem), its prompt item and its seed."""

    name: str
    prompt: PromptItem
    seed: int

    @property
    def has_reference(self) -> bool:
        return self.prompt.reference is not None


@dataclass
class InferenceSetup:
    """Everything a batch needs: built components, sizes, plan settings and output options."""

    model: Any
    vae: Any
    text_encoder: Any
    scheduler: Any
    geometry: VideoGeometry
    schedule: dict
    cfg_scale: float
    device: torch.device
    save_dir: Path
    reference_side: str = "first"
    resume: bool = False
    save_state_every: int = 1
    progress: bool = True
    crf: int = 18
    save_latents: bool = False
    fingerprint: dict = field(default_factory=dict)


def make_jobs(items: list, num_sample: int, seed: int, prefix: str = "sample") -> list:
    """Videos for ``items`` x ``num_sample``; video j (global order) gets seed ``seed + j``, so a video's
    result does not depend on batching or on the number of ranks."""
    jobs = []
    for p, item in enumerate(items):
        for k in range(num_sample):
            name = f"{prefix}_{p:04d}" + (f"-{k}" if num_sample > 1 else "")
            jobs.append(VideoJob(name, item, seed + len(jobs)))
    return jobs


def make_batches(jobs: list, batch_size: int) -> list:
    """Consecutive groups of ``batch_size`` videos with the same start (text only / reference)."""
    groups = [[j for j in jobs if not j.has_reference], [j for j in jobs if j.has_reference]]
    return [g[i:i + batch_size] for g in groups for i in range(0, len(g), max(1, batch_size))]


def plan_for(setup: InferenceSetup, has_reference: bool):
    return build_plan(setup.schedule, vae=setup.vae, geom=setup.geometry, scheduler=setup.scheduler,
                      has_reference=has_reference)


def check_references(setup: InferenceSetup, jobs: list) -> None:
    """Fail early (before loading weights or sampling) on a missing, unreadable or too short reference."""
    paths = list(dict.fromkeys(j.prompt.reference for j in jobs if j.has_reference))
    if not paths:
        return
    frames = reference_frames(plan_for(setup, True), setup.geometry)
    for path in paths:
        read_reference(path, frames, setup.geometry.image_size, setup.reference_side)


def encode_references(setup: InferenceSetup, jobs: list, schedule, generators: list) -> Optional[torch.Tensor]:
    """(B, C_z, R C, h, w) reference latents, or None for a text-only plan."""
    if schedule.num_ref_chunks == 0:
        return None
    frames, geom, vae = reference_frames(schedule, setup.geometry), setup.geometry, setup.vae
    latents = []
    for job, gen in zip(jobs, generators):
        x = read_reference(job.prompt.reference, frames, geom.image_size, setup.reference_side)
        latents.append(vae.encode(x[None].to(setup.device), generator=gen).float())
    return torch.cat(latents)[:, :, : schedule.num_ref_chunks * schedule.chunk_size]


def build_denoiser(setup: InferenceSetup, jobs: list):
    geom = setup.geometry
    captions = encode_captions(setup.text_encoder, [j.prompt for j in jobs], num_chunks=geom.num_chunks,
                               chunk_size=geom.chunk_latents, chunk_seconds=geom.chunk_seconds, device=setup.device)
    y_null = setup.text_encoder.null(len(jobs), setup.model).to(setup.device)
    return make_denoiser(setup.model, captions, y_null, setup.cfg_scale, fps=geom.fps, height=geom.height,
                         width=geom.width)


class ChunkSink:
    """Saves each finished chunk for resuming, decodes it and appends it to every sample's mp4."""

    def __init__(self, vae, writers: list, store: ResumeStore, device):
        self.vae, self.writers, self.store, self.device = vae, writers, store, device
        self.next_index = 0

    def _decode_write(self, latents: torch.Tensor) -> None:
        video = self.vae.decode_chunk(latents.to(self.device)).float()
        for b, writer in enumerate(self.writers):
            writer.write(video[b])
        self.next_index += 1

    def write(self, chunk: FinishedChunk) -> None:
        if chunk.index != self.next_index:
            raise RuntimeError(f"chunk {chunk.index} finished before chunk {self.next_index}; the plan must "
                               f"finish chunks in order to stream them")
        self.store.save_chunk(chunk.index, chunk.latents)
        self._decode_write(chunk.latents)

    def replay(self, num_chunks: int) -> None:
        """Decode the chunks an interrupted run already emitted (resume)."""
        for index in range(num_chunks):
            self._decode_write(self.store.load_chunk(index))


def _fingerprint(setup: InferenceSetup, jobs: list, schedule) -> dict:
    return {"names": [j.name for j in jobs], "prompts": [repr(j.prompt.segments) for j in jobs],
            "references": [j.prompt.reference for j in jobs], "seeds": [j.seed for j in jobs],
            "plan": [schedule.name, list(schedule.levels.shape), float(schedule.levels.sum())],
            "geometry": repr(setup.geometry), "cfg_scale": float(setup.cfg_scale), **setup.fingerprint}


def _progress(setup: InferenceSetup, jobs: list, schedule, start: int):
    label = jobs[0].name + (f" (+{len(jobs) - 1})" if len(jobs) > 1 else "")
    bar = tqdm(total=schedule.num_iterations, initial=start, desc=label, unit="call", disable=not setup.progress,
               dynamic_ncols=True)
    c = schedule.chunk_size

    def on_call(step) -> None:
        bar.update(1)
        bar.set_postfix(window=f"{step.window[0] * c}-{(step.window[-1] + 1) * c}", refresh=False)

    return bar, on_call


def _finish(setup: InferenceSetup, jobs: list, schedule, writers: list, store: ResumeStore) -> None:
    """Per video: the latents (if asked) and a ``.json`` sidecar (written last: it marks the video done)."""
    latents = None
    if setup.save_latents:
        latents = torch.cat([store.load_chunk(c) for c in range(schedule.num_chunks)], dim=2)
    for b, (job, writer) in enumerate(zip(jobs, writers)):
        if latents is not None:
            torch.save(latents[b:b + 1].clone(), setup.save_dir / f"{job.name}.latents.pt")
        info = {"prompt": [[s.text, s.start] for s in job.prompt.segments], "reference": job.prompt.reference,
                "seed": job.seed, "frames": writer.written, "fps": setup.geometry.fps, "plan": schedule.name,
                "model_calls": schedule.num_iterations, "rank": dist.get_rank(),
                "seams": seam_record(setup.vae, setup.geometry, schedule), **setup.fingerprint}
        (setup.save_dir / f"{job.name}.json").write_text(json.dumps(info, indent=1))
    store.clear()


def seam_record(vae, geom: VideoGeometry, schedule) -> dict:
    """Where the video can jump (the sidecar's ``seams``, read by tools/eval/seams.py): the frames per chunk,
    the frame offsets inside a chunk where a latent begins, and the first frames of separately generated clips."""
    return {"chunk_frames": geom.chunk_frames, "latent_starts": vae.latent_frame_starts(),
            "clip_start_frames": [c * geom.chunk_frames for c in schedule.clip_starts()]}


def _is_done(setup: InferenceSetup, jobs: list, store: ResumeStore) -> bool:
    files = [setup.save_dir / f"{j.name}{ext}" for j in jobs for ext in (".mp4", ".json")]
    return all(f.is_file() for f in files) and not store.state_path.is_file()


def run_batch(setup: InferenceSetup, jobs: list) -> list:
    """Generate the videos of ``jobs`` (see the module docstring); returns the mp4 paths."""
    schedule = plan_for(setup, jobs[0].has_reference)
    store = ResumeStore(setup.save_dir / ".resume" / jobs[0].name, _fingerprint(setup, jobs, schedule),
                        setup.save_state_every)
    paths = [setup.save_dir / f"{j.name}.mp4" for j in jobs]
    if setup.resume and _is_done(setup, jobs, store):
        logger.info("skipping %s: already finished", ", ".join(j.name for j in jobs))
        return paths
    state = store.load_state() if setup.resume else None
    if state is None:
        store.clear()
    gens = [torch.Generator(setup.device).manual_seed(j.seed) for j in jobs]
    reference = None if state is not None else encode_references(setup, jobs, schedule, gens)
    denoise = build_denoiser(setup, jobs)
    bar, on_call = _progress(setup, jobs, schedule, 0 if state is None else state.iteration)
    with ExitStack() as stack:
        writers = [stack.enter_context(Mp4Writer(p, setup.geometry.fps, setup.geometry.frames_kept, setup.crf))
                   for p in paths]
        sink = ChunkSink(setup.vae, writers, store, setup.device)
        sink.replay(0 if state is None else state.num_yielded)
        sampler = SlidingWindowSampler(schedule, denoise, latent_shape=setup.geometry.latent_shape,
                                       generators=gens, reference=reference, device=setup.device,
                                       on_call=on_call, state=state)
        for chunk in sampler:
            sink.write(chunk)
            if store.due(sampler.num_yielded):
                store.save_state(sampler.state())
        bar.close()
    _finish(setup, jobs, schedule, writers, store)
    return paths
