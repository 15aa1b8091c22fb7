"""The sliding-window long-video sampler: walks a :class:`ChunkSchedule` and yields finished chunks.

Notation (Open-Sora units, see ``opensora/schedulers/rectified_flow.py``):

=============  ===================================================================================
B              samples in the batch (each with its own ``torch.Generator``)
C_z, h, w      latent channels and latent height / width
C              latents per chunk (``schedule.chunk_size``); chunk c holds latents c C .. c C + C - 1
z              window latents (B, C_z, T_win, h, w), T_win = C * len(window(i))
t, t'          per-latent levels before / after iteration i, (B, T_win); 1000 = noise, 0 = clean
v              velocity x0 - eps from ``denoise(z, t, latent_index)`` (B, C_z, T_win, h, w)
Euler          z_active += v_active * (t - t') / 1000 (context chunks are never updated)
=============  ===================================================================================

One iteration i of the plan:

1. Start the chunks that enter the window now: a generated chunk from N(0, I) noise (it must be at level
   1000), a reference chunk with a level > 0 forward-noised from the reference. Noise is drawn when a chunk
   enters, oldest chunk first, from each sample's generator: memory stays flat and resuming is exact.
2. Feed context(i) + active(i) with ``schedule.window_timesteps`` to ``denoise`` (context at t = 0, or, for
   ``context_mode="renoise"``, forward-noised with fresh noise to the active level).
3. Euler-step the active chunks only; the context's prediction is discarded.
4. Queue ``emitted(i)``; they are yielded in order, oldest first, and dropped once no later window needs them.

Reference chunks that are clean in row 0 are yielded before iteration 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import torch

from opensora.schedulers.plan import ChunkSchedule
from opensora.schedulers.rectified_flow import NUM_TIMESTEPS, add_noise, euler_step

# denoise(z (B, C_z, T_win, h, w), t (B, T_win), latent_index (T_win,) long) -> v (B, C_z, T_win, h, w)
DenoiseFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Step:
    """What iteration ``i`` of a plan does (chunk indices, oldest first)."""

    index: int
    context: tuple
    active: tuple
    emitted: tuple

    @property
    def window(self) -> tuple:
        return self.context + self.active


@dataclass(frozen=True)
class FinishedChunk:
    """A chunk that reached t = 0: ``latents`` (B, C_z, C, h, w); ``iteration`` -1 for a clean reference."""

    index: int
    latents: torch.Tensor
    iteration: int


@dataclass
class SamplerState:
    """Everything needed to continue a run exactly (see ``SlidingWindowSampler.state``)."""

    iteration: int
    chunks: dict
    started: list
    pending: list
    rng_states: list
    num_yielded: int
    meta: dict = field(default_factory=dict)


def walk(schedule: ChunkSchedule) -> list[Step]:
    """The plan's iterations as :class:`Step` records (what the model sees and what finishes)."""
    return [Step(i, tuple(schedule.context(i)), tuple(schedule.active(i)), tuple(schedule.emitted(i)))
            for i in range(schedule.num_iterations)]


class NonFiniteSampleError(FloatingPointError):
    """The latents became NaN or inf during sampling (the run stops; its resume state is the last good chunk)."""


def check_entry_levels(schedule: ChunkSchedule, steps: Optional[Sequence[Step]] = None) -> None:
    """Every generated chunk must enter the window at exactly 1000 (pure noise): checked on the plan, so a
    dry run refuses what the sampler would refuse (only reference chunks may start partly noised)."""
    seen = set(range(schedule.num_ref_chunks))
    for step in walk(schedule) if steps is None else steps:
        for c in step.window:
            if c in seen:
                continue
            seen.add(c)
            level = float(schedule.levels[step.index, c])
            if level != NUM_TIMESTEPS:
                raise ValueError(f"chunk {c} enters the window at level {level!r} in iteration {step.index}; a "
                                 f"generated chunk must start from pure noise ({NUM_TIMESTEPS}); only reference "
                                 f"chunks may start partly noised (the schedule {schedule.name!r} is invalid)")


def last_use(steps: Sequence[Step], num_chunks: int) -> list[int]:
    """Per chunk, the last iteration whose window contains it (-1 if none)."""
    last = [-1] * num_chunks
    for step in steps:
        for c in step.window:
            last[c] = step.index
    return last


def latent_index(chunks: Sequence[int], chunk_size: int, device=None) -> torch.Tensor:
    """Absolute latent indices (T,) of ``chunks`` laid out one after another."""
    idx = [c * chunk_size + j for c in chunks for j in range(chunk_size)]
    return torch.tensor(idx, dtype=torch.long, device=device)


def draw_noise(generators: Sequence[torch.Generator], shape: Sequence[int], dtype, device) -> torch.Tensor:
    """(B, *shape) standard normal noise, sample b drawn from ``generators[b]``."""
    return torch.stack([torch.randn(tuple(shape), generator=g, dtype=dtype, device=device) for g in generators])


class SlidingWindowSampler:
    """Runs a :class:`ChunkSchedule` and yields :class:`FinishedChunk` records as chunks finish.

    Args:
        schedule: the plan (PA, AD, RN, RW, ... as built by ``opensora.schedulers.noise_schedules``).
        denoise: ``denoise(z, t, latent_index) -> v`` (e.g. the CFG wrapper from ``conditioning.py``).
        latent_shape: (C_z, h, w) of one latent frame.
        generators: one ``torch.Generator`` per sample, on ``device``.
        reference: (B, C_z, R C, h, w) latents of the ``schedule.num_ref_chunks`` reference chunks, or None.
        dtype: latent dtype of the noise (fp32; fp64 for oracle tests); Euler updates keep >= fp32.
        on_call: ``on_call(step)`` after every model call (progress bars, timing).
        state: a :class:`SamplerState` from ``state()`` to continue an interrupted run (``reference`` is then
            not needed: the state holds every chunk still in use).
    """

    def __init__(self, schedule: ChunkSchedule, denoise: DenoiseFn, *, latent_shape: Sequence[int],
                 generators: Sequence[torch.Generator], reference: Optional[torch.Tensor] = None,
                 dtype: torch.dtype = torch.float32, device=None, on_call: Optional[Callable] = None,
                 state: Optional[SamplerState] = None):
        self.schedule, self.denoise, self.on_call = schedule, denoise, on_call
        self.latent_shape, self.generators = tuple(latent_shape), list(generators)
        self.dtype, self.device = dtype, torch.device(device) if device is not None else torch.device("cpu")
        self.steps = walk(schedule)
        check_entry_levels(schedule, self.steps)
        self._last = last_use(self.steps, schedule.num_chunks)
        if state is None:
            self._check_reference(reference)
            self._fresh(reference)
        else:
            self._restore(state)

    # ---- set-up ------------------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        return len(self.generators)

    @property
    def num_calls(self) -> int:
        return self.schedule.num_iterations

    def _check_reference(self, reference) -> None:
        r, c = self.schedule.num_ref_chunks, self.schedule.chunk_size
        want = (self.batch_size, self.latent_shape[0], r * c, *self.latent_shape[1:])
        if r == 0 and reference is None:
            return
        if reference is None or tuple(reference.shape) != want:
            got = None if reference is None else tuple(reference.shape)
            raise ValueError(f"the schedule has {r} reference chunk(s), so reference must be latents of shape "
                             f"(B, C_z, R*C, h, w) = {want}; got {got}")

    def _fresh(self, reference) -> None:
        self._i, self._num_yielded = 0, 0
        self._chunks: dict[int, torch.Tensor] = {}
        self._started: set[int] = set()
        for c in range(self.schedule.num_ref_chunks):
            ref = reference[:, :, c * self.schedule.chunk_size:(c + 1) * self.schedule.chunk_size]
            self._chunks[c] = ref.to(self.device, self.dtype)
        self._pending = list(self.schedule.initially_done())
        self._started.update(self._pending)

    def _restore(self, state: SamplerState) -> None:
        if len(state.rng_states) != self.batch_size:
            raise ValueError(f"the saved state holds {len(state.rng_states)} samples, this batch has "
                             f"{self.batch_size}; resume with the same prompts and batch size")
        self._i, self._num_yielded = state.iteration, state.num_yielded
        self._chunks = {int(c): z.to(self.device) for c, z in state.chunks.items()}
        self._started, self._pending = set(state.started), list(state.pending)
        for g, s in zip(self.generators, state.rng_states):
            g.set_state(s)

    def state(self) -> SamplerState:
        """A snapshot between yields: continuing from it gives bitwise the same remaining chunks."""
        return SamplerState(iteration=self._i, chunks={c: z.detach().cpu().clone() for c, z in self._chunks.items()},
                            started=sorted(self._started), pending=list(self._pending),
                            rng_states=[g.get_state() for g in self.generators], num_yielded=self._num_yielded,
                            meta={"num_iterations": self.num_calls, "num_chunks": self.schedule.num_chunks})

    @property
    def calls_done(self) -> int:
        return self._i

    @property
    def num_yielded(self) -> int:
        return self._num_yielded

    # ---- the loop ----------------------------------------------------------------------------------
    def __iter__(self):
        while self._pending or self._i < self.num_calls:
            if self._pending:
                yield self._pop_finished()
            else:
                self._run(self.steps[self._i])

    def _pop_finished(self) -> FinishedChunk:
        c = self._pending.pop(0)
        self._num_yielded += 1
        chunk = FinishedChunk(c, self._chunks[c], self._i - 1)
        self._release()
        return chunk

    def _release(self) -> None:
        """Drop finished chunks that are neither pending nor in any window from iteration ``_i`` on."""
        for c in list(self._chunks):
            done = float(self.schedule.levels[self._i, c]) == 0.0
            if done and c not in self._pending and self._last[c] < self._i:
                del self._chunks[c]

    def _run(self, step: Step) -> None:
        for c in step.window:
            self._start(c, step.index)
        n_ctx = len(step.context) * self.schedule.chunk_size
        z = torch.cat([self._chunks[c] for c in step.window], dim=2)
        t = self.schedule.window_timesteps(step.index, self.batch_size, device=self.device)
        t_next = self.schedule.window_timesteps(step.index, self.batch_size, after=True, device=self.device)
        if self.schedule.context_mode == "renoise" and n_ctx:
            z = self._renoise_context(z, t, n_ctx)
        idx = latent_index(step.window, self.schedule.chunk_size, self.device)
        v = self.denoise(z, t.to(torch.promote_types(z.dtype, torch.float32)), idx)
        self._check_velocity(v, z)
        z_act = euler_step(z[:, :, n_ctx:], v[:, :, n_ctx:], t[:, n_ctx:], t_next[:, n_ctx:])
        self._check_finite(z_act, step)
        for c, part in zip(step.active, z_act.split(self.schedule.chunk_size, dim=2)):
            self._chunks[c] = part.contiguous()  # a standalone tensor, not a view pinning the window
        self._pending.extend(step.emitted)
        self._i += 1
        self._release()
        if self.on_call is not None:
            self.on_call(step)

    def _start(self, c: int, i: int) -> None:
        """Create chunk ``c``'s latents when it first enters a window (see the module docstring, step 1)."""
        if c in self._started:
            return
        level = float(self.schedule.levels[i, c])
        shape = (self.latent_shape[0], self.schedule.chunk_size, *self.latent_shape[1:])
        noise = draw_noise(self.generators, shape, self.dtype, self.device)
        if c < self.schedule.num_ref_chunks:
            t = torch.full((self.batch_size, self.schedule.chunk_size), level, dtype=torch.float64)
            self._chunks[c] = add_noise(self._chunks[c], noise, t)
        elif level != NUM_TIMESTEPS:
            raise ValueError(f"chunk {c} enters the window at level {level:g} in iteration {i}; a generated "
                             f"chunk must start from pure noise ({NUM_TIMESTEPS}); only reference chunks may start "
                             f"partly noised")
        else:
            self._chunks[c] = noise
        self._started.add(c)

    def _renoise_context(self, z: torch.Tensor, t: torch.Tensor, n_ctx: int) -> torch.Tensor:
        """RW: the clean context forward-noised to its row level with fresh noise (never stored)."""
        ctx = z[:, :, :n_ctx]
        noise = draw_noise(self.generators, ctx.shape[1:], ctx.dtype, self.device)
        return torch.cat([add_noise(ctx, noise, t[:, :n_ctx]), z[:, :, n_ctx:]], dim=2)

    def _check_finite(self, z_act: torch.Tensor, step: Step) -> None:
        """Stop on NaN / inf latents (a non-finite velocity, or an overflow) before they are stored or emitted."""
        finite = torch.isfinite(z_act).flatten(3).all(-1).all(1)  # (B, T_active)
        if bool(finite.all()):
            return
        bad = ~finite
        chunks = sorted({step.active[int(j) // self.schedule.chunk_size] for j in torch.nonzero(bad.any(0))})
        samples = torch.nonzero(bad.any(1)).flatten().tolist()
        raise NonFiniteSampleError(
            f"the latents became NaN or inf in model call {step.index + 1} of {self.num_calls} (iteration "
            f"{step.index}), chunk(s) {chunks}, sample(s) {samples}: the model returned a non-finite velocity. "
            f"Check the weights (--ckpt-path), dtype (bf16 overflow: try --cfg-options dtype=fp32) and cfg_scale; "
            f"{self._num_yielded} chunk(s) were finished before it")

    @staticmethod
    def _check_velocity(v: torch.Tensor, z: torch.Tensor) -> None:
        if tuple(v.shape) != tuple(z.shape):
            raise ValueError(f"denoise returned v of shape {tuple(v.shape)}; it must match the window "
                             f"latents {tuple(z.shape)} (B, C_z, T_win, h, w): slice the model's output to "
                             f"the first C_z channels")
