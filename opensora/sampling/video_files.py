"""The files of a batch of videos: one mp4 per video, written chunk by chunk, then latents and a json sidecar.

========================  ===================================================================================
``<name>.mp4``            h264 / yuv420p, fragmented (a stopped run leaves a playable partial video), cut to
                          the geometry's ``frames_kept``
``<name>.latents.pt``     (1, C_z, N C, h, w) with ``save_latents`` (read back from the resume store)
``<name>.json``           prompt timeline, reference, seed, frames, fps, plan, model calls, rank, what
                          reproduces it (weights, config, image size, cfg scale, steps, schedule, scheduler,
                          reference side, crf) and the batch fingerprint; written last: it marks the video done
``.resume/<batch>/``      :class:`~opensora.sampling.resume.ResumeStore` (removed when the batch is done)
========================  ===================================================================================
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from opensora.schedulers.plan import ChunkSchedule
from opensora.utils import dist

from .geometry import VideoGeometry
from .prompts import PromptItem
from .resume import ResumeMismatchError, ResumeStore
from .sliding_window import FinishedChunk


@dataclass(frozen=True)
class VideoJob:
    """One output video: ``name`` (file stem), its prompt item and its seed."""

    name: str
    prompt: PromptItem
    seed: int

    @property
    def has_reference(self) -> bool:
        return self.prompt.reference is not None


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


def chunk_decoder(vae, device):
    """A function that decodes one batch of videos' chunks, taken in order: (B, C_z, C, h, w) latents of the next
    chunk -> (B, 3, 17, H, W) fp32 pixels in [-1, 1] (``vae.chunk_decoder()``, which carries the state of a VAE
    whose decoding has one, ``RingPanChunkPCAVideoVAE``'s ring phase)."""
    step = vae.chunk_decoder()
    return lambda latents: step(latents.to(device)).float()


class ChunkSink:
    """Saves each finished chunk for resuming, decodes it and appends it to every sample's mp4."""

    def __init__(self, vae, writers: list, store: ResumeStore, device):
        self.vae, self.writers, self.store, self.device = vae, writers, store, device
        self.next_index = 0
        self.decode = chunk_decoder(vae, device)  # chunks arrive in order (write / replay), so state carries

    def _decode_write(self, latents: torch.Tensor) -> None:
        video = self.decode(latents)
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


def batch_fingerprint(jobs: list, schedule: ChunkSchedule, geom: VideoGeometry, cfg_scale: float,
                      run: dict) -> dict:
    """What a resume state must match: the videos, the plan, the sizes, the guidance and ``run`` (weights,
    config)."""
    return {"names": [j.name for j in jobs], "prompts": [repr(j.prompt.segments) for j in jobs],
            "references": [j.prompt.reference for j in jobs], "seeds": [j.seed for j in jobs],
            "plan": [schedule.name, list(schedule.levels.shape), float(schedule.levels.sum())],
            "geometry": repr(geom), "cfg_scale": float(cfg_scale), **run}


def _json_ready(value):
    """``value`` as JSON gives it back (tuples -> lists), so a fingerprint compares equal after a round trip."""
    return json.loads(json.dumps(value))


def is_done(save_dir: Path, jobs: list, store: ResumeStore) -> bool:
    """Whether every video of the batch is finished *by this run*: mp4 + sidecar present, no resume state, and
    every sidecar's run fingerprint equal to ``store.fingerprint``; a finished video of another run raises
    :class:`ResumeMismatchError` (it is never taken for this run's)."""
    files = [save_dir / f"{j.name}{ext}" for j in jobs for ext in (".mp4", ".json")]
    if not all(f.is_file() for f in files) or store.state_path.is_file():
        return False
    want = _json_ready(store.fingerprint)
    for job in jobs:
        sidecar = save_dir / f"{job.name}.json"
        try:
            saved = json.loads(sidecar.read_text()).get("fingerprint")
        except (OSError, ValueError, AttributeError):
            saved = None
        if saved != want:
            diff = sorted(k for k in set(saved or {}) | set(want) if (saved or {}).get(k) != want.get(k))
            what = f"differs in {diff}" if saved is not None else "has no run fingerprint (an older or damaged file)"
            raise ResumeMismatchError(f"{save_dir / job.name}.mp4 is a finished video of a different run ({sidecar} "
                                      f"{what}); --resume keeps finished videos only for the same config, prompts, "
                                      f"seeds and weights: use another --save-dir, or drop --resume to overwrite it")
    return True


def seam_record(vae, geom: VideoGeometry, schedule: ChunkSchedule) -> dict:
    """Where the video can jump (the sidecar's ``seams``, read by tools/eval/seams.py): the frames per chunk,
    the frame offsets inside a chunk where a latent begins, and the first frames of separately generated clips."""
    return {"chunk_frames": geom.chunk_frames, "latent_starts": vae.latent_frame_starts(),
            "clip_start_frames": [c * geom.chunk_frames for c in schedule.clip_starts()]}


def finish_batch(save_dir: Path, jobs: list, schedule: ChunkSchedule, geom: VideoGeometry, writers: list,
                 store: ResumeStore, *, save_latents: bool, run: dict, seams: dict, settings: dict) -> None:
    """Per video: the latents (if asked) and a ``.json`` sidecar (written last: it marks the video done);
    ``seams`` is :func:`seam_record`; ``settings`` what else reproduces the video (cfg scale, steps, size,
    schedule, ...); the sidecar's ``fingerprint`` is the batch's (``--resume`` compares it)."""
    latents = None
    if save_latents:
        latents = torch.cat([store.load_chunk(c) for c in range(schedule.num_chunks)], dim=2)
    for b, (job, writer) in enumerate(zip(jobs, writers)):
        if latents is not None:
            torch.save(latents[b:b + 1].clone(), save_dir / f"{job.name}.latents.pt")
        info = {"prompt": [[s.text, s.start] for s in job.prompt.segments], "reference": job.prompt.reference,
                "seed": job.seed, "frames": writer.written, "fps": geom.fps, "plan": schedule.name,
                "model_calls": schedule.num_iterations, "rank": dist.get_rank(), "seams": seams, **run,
                **settings, "fingerprint": _json_ready(store.fingerprint)}
        (save_dir / f"{job.name}.json").write_text(json.dumps(info, indent=1))
    store.clear()
