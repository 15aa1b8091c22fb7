"""The sizes of a long video: pixels, frames, chunks and latents, all derived from the VAE.

======================  ===========================================================================
image_size (H, W)        pixel size fed to the VAE and the model's meta (240 x 426 at 240p 9:16)
chunk_frames             frames per chunk = the VAE's ``micro_frame_size`` (17)
chunk_latents            latents per chunk = the VAE's ``latents_per_chunk`` (C = 5)
num_chunks               chunks to generate so that every requested frame is covered (60 s: 85)
frames_generated         num_chunks * chunk_frames (1445)
frames_kept              frames written: the requested count, cut to whole seconds if asked (1440)
======================  ===========================================================================
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

# Open-Sora v1.2 (opensora/datasets/aspect.py) sizes (H, W) per resolution and aspect-ratio key (H / W).
_ASPECT_KEYS = {"9:16": "0.56", "3:4": "0.75", "1:1": "1.00", "4:3": "1.33", "16:9": "1.78"}
_SIZES = {
    "240p": {"0.56": (240, 426), "0.75": (276, 368), "1.00": (320, 320), "1.33": (368, 276), "1.78": (426, 240)},
    "360p": {"0.56": (360, 640), "0.75": (416, 554), "1.00": (480, 480), "1.33": (554, 416), "1.78": (640, 360)},
    "480p": {"0.56": (480, 854), "0.75": (554, 738), "1.00": (640, 640), "1.33": (738, 554), "1.78": (854, 480)},
    "720p": {"0.56": (720, 1280), "0.75": (832, 1110), "1.00": (960, 960), "1.33": (1108, 834),
             "1.78": (1280, 720)},
}


def image_size_for(resolution: str, aspect_ratio: str) -> tuple:
    """Open-Sora's (H, W) for e.g. ("240p", "9:16") -> (240, 426); aspect ratios are written H:W."""
    if resolution not in _SIZES:
        raise ValueError(f"resolution {resolution!r}; use one of {sorted(_SIZES)} (or set image_size=(H, W))")
    key = _ASPECT_KEYS.get(aspect_ratio, aspect_ratio)
    if key not in _SIZES[resolution]:
        raise ValueError(f"aspect_ratio {aspect_ratio!r}; use one of {sorted(_ASPECT_KEYS)} "
                         f"(or set image_size=(H, W))")
    return _SIZES[resolution][key]


def parse_num_frames(value, fps: int) -> int:
    """Frames from an int or a duration string such as "60s" (seconds * fps, as Open-Sora's "4s")."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*s\s*", value)
        if not match:
            raise ValueError(f"num_frames={value!r}: give a frame count (e.g. 1445) or seconds (e.g. '60s')")
        frames = int(round(float(match.group(1)) * fps))
        if frames < 1:
            raise ValueError(f"num_frames={value!r} is {frames} frames at {fps} fps; give at least one frame "
                             f"(e.g. '60s' or 1445)")
        return frames
    if int(value) < 1:
        raise ValueError(f"num_frames={value}: need at least 1 frame (e.g. 1445, or seconds such as '60s')")
    return int(value)


def frames_to_keep(num_frames: int, fps: int, whole_seconds: bool = True) -> int:
    """Frames to keep from ``num_frames``: a whole number of seconds (1445 -> 1440 at 24 fps) if asked.

    Never 0 for a non-empty video: a video shorter than one second is kept whole.
    """
    if num_frames < 0 or fps < 1:
        raise ValueError(f"num_frames={num_frames}, fps={fps}: need num_frames >= 0 and fps >= 1")
    keep = num_frames - num_frames % fps if whole_seconds else num_frames
    return keep if keep > 0 else num_frames


@dataclass(frozen=True)
class VideoGeometry:
    height: int
    width: int
    fps: int
    num_frames: int
    chunk_frames: int
    chunk_latents: int
    latent_channels: int
    latent_height: int
    latent_width: int
    num_chunks: int
    frames_kept: int

    @property
    def image_size(self) -> tuple:
        return self.height, self.width

    @property
    def latent_shape(self) -> tuple:
        """(C_z, h, w) of one latent frame."""
        return self.latent_channels, self.latent_height, self.latent_width

    @property
    def num_latents(self) -> int:
        return self.num_chunks * self.chunk_latents

    @property
    def frames_generated(self) -> int:
        return self.num_chunks * self.chunk_frames

    @property
    def chunk_seconds(self) -> float:
        return self.chunk_frames / self.fps

    def chunk_start_seconds(self, chunk: int) -> float:
        return chunk * self.chunk_seconds

    def chunks_for_frames(self, num_frames: int) -> int:
        return math.ceil(num_frames / self.chunk_frames)


def video_geometry(vae, image_size, num_frames, fps: int, whole_seconds: bool = True) -> VideoGeometry:
    """Sizes of a ``num_frames`` video (an int or "60s") from ``vae`` (which owns the latent sizes)."""
    frames = parse_num_frames(num_frames, fps)
    chunk_latents, chunk_frames = vae.latents_per_chunk, vae.micro_frame_size
    _, lh, lw = vae.get_latent_size([None, int(image_size[0]), int(image_size[1])])
    num_chunks = math.ceil(vae.latent_frames(frames) / chunk_latents)
    kept = frames_to_keep(min(frames, num_chunks * chunk_frames), fps, whole_seconds)
    return VideoGeometry(int(image_size[0]), int(image_size[1]), int(fps), frames, chunk_frames, chunk_latents,
                         vae.out_channels, lh, lw, num_chunks, kept)
