"""Resume files of one batch: the sampler state and the latents of every chunk already emitted.

Layout under ``<save_dir>/.resume/<batch name>/``:

===================  ========================================================================
``state.pt``         :class:`SamplerState` (window latents, RNG states, emitted count) + fingerprint,
                     rewritten atomically every ``every`` emitted chunks
``chunk_00012.pt``   emitted chunk 12, (B, C_z, C, h, w); written as each chunk is emitted
===================  ========================================================================

On resume the emitted chunks are decoded again into fresh mp4 files (decoding is deterministic), so the
resumed videos equal uninterrupted ones; sampling continues from ``state.pt``. The directory is removed when
the batch finishes.
"""
from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import torch

from opensora.utils.ckpt import atomic_write

from .sliding_window import SamplerState


class ResumeMismatchError(ValueError):
    """The saved state belongs to a different run (prompts, seeds, plan or sizes changed)."""


class ResumeStore:
    def __init__(self, directory, fingerprint: dict, every: int = 1):
        self.directory, self.fingerprint, self.every = Path(directory), dict(fingerprint), max(1, int(every))

    @property
    def state_path(self) -> Path:
        return self.directory / "state.pt"

    def chunk_path(self, index: int) -> Path:
        return self.directory / f"chunk_{index:05d}.pt"

    def save_chunk(self, index: int, latents: torch.Tensor) -> None:
        atomic_write(self.chunk_path(index), lambda tmp: torch.save(latents.detach().cpu(), tmp))

    def load_chunk(self, index: int) -> torch.Tensor:
        path = self.chunk_path(index)
        if not path.is_file():
            raise FileNotFoundError(f"resume data is incomplete: {path} is missing; delete {self.directory} "
                                    f"and run without --resume")
        return torch.load(path, map_location="cpu", weights_only=True)

    def due(self, num_emitted: int) -> bool:
        """Whether to save the state after ``num_emitted`` chunks (every ``every`` chunks)."""
        return num_emitted % self.every == 0

    def save_state(self, state: SamplerState) -> None:
        payload = {"fingerprint": self.fingerprint, "state": asdict(state)}
        atomic_write(self.state_path, lambda tmp: torch.save(payload, tmp))

    def load_state(self) -> Optional[SamplerState]:
        """The saved state, None if there is none; raises :class:`ResumeMismatchError` for another run's."""
        if not self.state_path.is_file():
            return None
        payload = torch.load(self.state_path, map_location="cpu", weights_only=True)
        saved = payload["fingerprint"]
        if saved != self.fingerprint:
            diff = sorted(k for k in set(saved) | set(self.fingerprint) if saved.get(k) != self.fingerprint.get(k))
            raise ResumeMismatchError(f"{self.state_path} was saved by a different run (differs in {diff}); "
                                      f"rerun with the same config, prompts, seed and batch size, or delete "
                                      f"{self.directory} (or drop --resume) to start over")
        return SamplerState(**payload["state"])

    def clear(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        try:  # the shared parent (.resume) goes once the last batch is done
            self.directory.parent.rmdir()
        except OSError:
            pass
