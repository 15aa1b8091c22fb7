"""Checks of inference settings and inputs, run before any network is built or any weights are read.

Every check raises ``ValueError`` (a one-line error on the command line) naming the setting (its config key,
which is also the ``from_components`` keyword), the offending value and what to give instead. Settings are
checked when a settings object is made (``VideoSettings`` ... in ``pipeline.py``); prompts against a video's
length by :func:`check_timeline`.
"""
from __future__ import annotations

import math
import numbers
from typing import Sequence

from .geometry import VideoGeometry, parse_num_frames
from .prompts import PromptItem
from .references import REFERENCE_SIDES

MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes a 64-bit integer; video j uses seed + j
MAX_CRF = 51  # x264's crf range is 0..51


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(key: str, value, *, minimum: int = 1, maximum: int | None = None, example=None) -> int:
    """``value`` as an int in [minimum, maximum], or a ValueError naming ``key``."""
    bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    if not _is_int(value) or value < minimum or (maximum is not None and value > maximum):
        hint = f", e.g. {key}={example}" if example is not None else ""
        raise ValueError(f"{key}={value!r} must be an integer {bounds}{hint}")
    return int(value)


def check_finite(key: str, value, example) -> float:
    """``value`` as a finite float, or a ValueError naming ``key`` (NaN and inf are refused up front)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if not ok:
        raise ValueError(f"{key}={value!r} must be a finite number, e.g. {key}={example}")
    return float(value)


def check_bool(key: str, value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{key}={value!r} must be True or False")
    return value


def check_image_size(value) -> tuple:
    ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) and v >= 2 for v in value)
    if not ok:
        raise ValueError(f"image_size={value!r} must be (height, width) in pixels, two integers >= 2, e.g. "
                         f"image_size=(240, 426) (or set resolution / aspect_ratio and image_size=None)")
    return tuple(int(v) for v in value)


def check_num_frames(value, fps: int) -> int:
    """Frames of a length (an int or seconds such as "60s"); at least one."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, str)):
        raise ValueError(f"num_frames={value!r} must be a frame count (e.g. 1445) or seconds (e.g. '60s')")
    return parse_num_frames(value, fps)


def check_seed(value, key: str = "seed") -> int:
    return check_int(key, value, minimum=0, maximum=MAX_SEED, example=42)


def check_schedule(value) -> dict:
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise ValueError(f"schedule={value!r} must be a dict with a 'type', e.g. schedule=dict(type='pa', "
                         f"window_frames=119) (on the command line: --cfg-options schedule.type=pa)")
    return value


def check_reference_side(value) -> str:
    if value not in REFERENCE_SIDES:
        raise ValueError(f"reference_side={value!r}; use one of {REFERENCE_SIDES}")
    return value


def check_video_settings(s) -> None:
    """The fields of ``VideoSettings``."""
    check_image_size(s.image_size)
    check_int("fps", s.fps, example=24)
    check_num_frames(s.num_frames, s.fps)
    check_bool("whole_seconds", s.whole_seconds)


def check_sampling_settings(s) -> None:
    """The fields of ``SamplingSettings``."""
    check_schedule(s.schedule)
    check_finite("cfg_scale", s.cfg_scale, 7.0)
    check_reference_side(s.reference_side)
    check_int("num_sample", s.num_sample, example=1)
    check_int("batch_size", s.batch_size, example=1)
    check_seed(s.seed)


def check_output_settings(s) -> None:
    """The fields of ``OutputSettings``."""
    check_int("save_state_every", s.save_state_every, example=1)
    check_int("crf", s.crf, minimum=0, maximum=MAX_CRF, example=18)
    check_bool("save_latents", s.save_latents)
    check_bool("progress", s.progress)
    if not isinstance(s.fingerprint, dict):
        raise ValueError(f"fingerprint={s.fingerprint!r} must be a dict (weights, config) or omitted")


def kept_chunks(geom: VideoGeometry) -> int:
    """Chunks that hold at least one written frame."""
    return max(1, -(-geom.frames_kept // geom.chunk_frames))


def check_timeline(item: PromptItem, geom: VideoGeometry) -> None:
    """Every timeline segment must apply to a chunk of the written video (a prompt change applies to the
    chunks that start at or after its second), else it would be silently unused."""
    last = (kept_chunks(geom) - 1) * geom.chunk_seconds
    seconds = geom.frames_kept / geom.fps
    for seg in item.segments[1:]:
        if seg.start > last + 1e-9:
            raise ValueError(f"{item.source or 'prompt'}: the timeline segment {seg.text!r} starts at {seg.start:g} s, "
                             f"but the video is {seconds:g} s long ({geom.frames_kept} frames; its last chunk "
                             f"starts at {last:.3g} s), so it would never be used; start it earlier or make the "
                             f"video longer (--num-frames)")


def check_timelines(items: Sequence[PromptItem], geom: VideoGeometry) -> None:
    for item in items:
        check_timeline(item, geom)
