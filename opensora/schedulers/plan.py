"""A sampling plan as data: per-chunk noise levels per iteration.

Every schedule the long-video sampler can run (PA progressive, AR-Diffusion AD, the RN/RW replacement
baselines, Open-Sora's synchronous sampling) is one :class:`ChunkSchedule`. Builders live in
``opensora.schedulers.noise_schedules``; the sampler in ``opensora.sampling`` only walks ``levels``.

Notation (Open-Sora units, see ``rectified_flow.py``):

=========  ===========================================================================
levels     (I + 1, N) float64; ``levels[i, c]`` is chunk c's level *before* iteration i,
           0 = clean, 1000 = pure noise; the last row is all zeros.
active(i)  chunks whose level changes in iteration i (levels[i] != levels[i + 1]);
           they are contiguous; each gets one Euler step from levels[i] to levels[i + 1].
context(i) the ``num_context`` finished chunks (level 0) right before the first active one.
window(i)  context(i) followed by active(i): what the model sees in iteration i.
emitted(i) chunks that reach level 0 in iteration i; reference chunks with level 0 in
           row 0 are emitted before iteration 0.
=========  ===========================================================================
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

CONTEXT_MODES = ("clean", "renoise")


@dataclass(frozen=True)
class ChunkSchedule:
    """Per-chunk noise levels for every sampling iteration.

    Args:
        levels: (I + 1, N) float64 tensor of levels in [0, 1000] (see module docstring).
        chunk_size: latents per chunk (C); every latent of a chunk shares its chunk's level.
        num_ref_chunks: leading chunks taken from a reference clip. A reference chunk with level 0 in
            row 0 is clean; one with a level > 0 is forward-noised from the reference to that level.
        num_context: finished chunks kept at the front of the window as conditioning (PA keep_x0 = 1).
        context_mode: "clean" feeds context at t = 0 and never modifies it (PA, RN); "renoise" feeds it
            forward-noised with fresh noise to the active chunks' level each iteration (RW baseline).
        name: a label for logs and plans.
        meta: free-form facts about how the schedule was built (steps, ratio, ...), for plan files.
    """

    levels: torch.Tensor
    chunk_size: int
    num_ref_chunks: int = 0
    num_context: int = 1
    context_mode: str = "clean"
    name: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        lv = self.levels
        if lv.dim() != 2 or lv.shape[0] < 1:
            raise ValueError(f"levels must be (iterations + 1, chunks), got shape {tuple(lv.shape)}")
        if self.context_mode not in CONTEXT_MODES:
            raise ValueError(f"context_mode={self.context_mode!r}; use one of {CONTEXT_MODES}")
        if self.chunk_size < 1 or self.num_context < 0 or self.num_ref_chunks < 0:
            raise ValueError(f"chunk_size={self.chunk_size}, num_context={self.num_context}, "
                             f"num_ref_chunks={self.num_ref_chunks}: need chunk_size >= 1 and the rest >= 0")
        if bool((lv[-1] != 0).any()):
            raise ValueError("the last row of levels must be all zeros (every chunk ends clean)")

    @property
    def num_iterations(self) -> int:
        return self.levels.shape[0] - 1

    @property
    def num_chunks(self) -> int:
        return self.levels.shape[1]

    @property
    def num_latents(self) -> int:
        return self.num_chunks * self.chunk_size

    def active(self, i: int) -> list[int]:
        """Chunks updated in iteration ``i`` (contiguous, oldest first)."""
        idx = torch.nonzero(self.levels[i] != self.levels[i + 1]).flatten().tolist()
        if idx and idx != list(range(idx[0], idx[-1] + 1)):
            raise ValueError(f"iteration {i}: active chunks {idx} are not contiguous")
        return idx

    def context(self, i: int) -> list[int]:
        """The finished chunks fed as conditioning in iteration ``i`` (oldest first)."""
        act = self.active(i)
        if not act:
            return []
        first = max(0, act[0] - self.num_context)
        return [c for c in range(first, act[0]) if float(self.levels[i, c]) == 0.0]

    def window(self, i: int) -> list[int]:
        return self.context(i) + self.active(i)

    def emitted(self, i: int) -> list[int]:
        """Chunks that reach level 0 in iteration ``i``."""
        done = (self.levels[i] > 0) & (self.levels[i + 1] == 0)
        return torch.nonzero(done).flatten().tolist()

    def initially_done(self) -> list[int]:
        """Reference chunks that are clean before iteration 0 (emitted first)."""
        return [c for c in range(self.num_ref_chunks) if float(self.levels[0, c]) == 0.0]

    def clip_starts(self) -> list[int]:
        """Chunks c >= 1 that were never denoised together with chunk c - 1 (never both active in one
        iteration): the first chunk of each separately generated clip (RN / RW) and the first generated chunk
        after clean reference chunks. PA and AD denoise neighbours together, so they have none after the
        reference. The evaluation measures the jump at these boundaries (tools/eval/seams.py)."""
        active = self.levels[:-1] != self.levels[1:]  # (I, N)
        together = (active[:, 1:] & active[:, :-1]).any(0)  # (N - 1,): chunks c - 1 and c, c = 1 .. N - 1
        return [c + 1 for c in range(self.num_chunks - 1)
                if c + 1 >= self.num_ref_chunks and not bool(together[c])]

    def window_timesteps(self, i: int, batch_size: int = 1, *, after: bool = False,
                         dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
        """Per-latent model timesteps of iteration ``i``'s window, (B, T_win), T_win = len(window(i)) * C.

        1. Context latents: 0 for context_mode "clean"; for "renoise", the level of the oldest active chunk
           (the context is forward-noised to it, so the whole row is constant in RW).
        2. Active chunk c: ``levels[i, c]`` repeated C times (``after=True``: ``levels[i + 1, c]``, the levels
           the Euler step goes to; context entries are then unchanged, i.e. a zero step).
        """
        ctx, act = self.context(i), self.active(i)
        if not act:
            return torch.zeros(batch_size, 0, dtype=dtype, device=device)
        lv = self.levels[i + int(after), act]
        ctx_level = 0.0 if self.context_mode == "clean" else float(self.levels[i, act[0]])
        row = torch.cat([torch.full((len(ctx) * self.chunk_size,), ctx_level, dtype=torch.float64),
                         lv.to(torch.float64).repeat_interleave(self.chunk_size)])
        return row.to(dtype=dtype, device=device).expand(batch_size, -1)
