"""The synthetic long-video world: a camera panning over an endless procedural landscape.

Notation:

    H, W     frame height and width (px, even: yuv420p needs it)
    t        frame index (0, 1, ...), 24 fps by default
    dx       content motion on screen in px/frame, + = rightwards (a camera panning left moves content right)
    cam(t)   x0 - dx * t, the world column shown at the left edge of frame t
    x        (W,) world column of each pixel centre: cam(t) + c + 0.5 for screen column c
    y        (H, 1) pixel-centre rows, 0 at the top

Every layer (sky, stars, clouds, far hills, near hills with texture, objects) is a continuous function of the
world column, so frame t+1 is frame t shifted by exactly dx pixels (sub-pixel shifts included) plus the
strip that enters at the edge. The sky gradient depends on the row only. Each frame is rendered on its own
from the seed, so videos of any length stream in constant memory.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .captions import Caption
from .noise import ValueNoise1D
from .objects import ObjectField, StarField, blend
from .palettes import PALETTES

BAND_FRACTION = 0.125  # top / bottom band rows whose expected colours the sidecar records for evaluation


@dataclass(frozen=True)
class WorldSpec:
    """What one video shows: its caption (direction, speed, palette, objects), seed and frame size."""

    caption: Caption
    seed: int
    width: int = 96
    height: int = 64
    fps: int = 24

    def __post_init__(self):
        for name, value in (("width", self.width), ("height", self.height)):
            if value < 16 or value % 2:
                raise ValueError(f"{name}={value} must be even and >= 16 (libx264 yuv420p needs even sizes)")
        if self.fps <= 0:
            raise ValueError(f"fps={self.fps} must be positive")


class World:
    """Renders frame ``t`` of the pan described by a :class:`WorldSpec` (uint8, (H, W, 3), RGB)."""

    def __init__(self, spec: WorldSpec):
        rng = np.random.default_rng(spec.seed)
        self.spec, self.palette = spec, PALETTES[spec.caption.palette]
        self.x0 = float(rng.uniform(0.0, 20000.0))
        self.far, self.near = ValueNoise1D(rng), ValueNoise1D(rng)
        self.clouds, self.texture = ValueNoise1D(rng, octaves=4), ValueNoise1D(rng, octaves=2)
        self.objects = ObjectField(rng, spec.caption.objects, spec.height)
        self.stars = StarField(rng, spec.height) if self.palette.stars else None
        self.sky = sky_gradient(self.palette, spec.height)

    def far_height(self, x: np.ndarray) -> np.ndarray:
        return self.spec.height * (0.38 + 0.25 * self.far(x / 48.0))

    def near_height(self, x: np.ndarray) -> np.ndarray:
        return self.spec.height * (0.18 + 0.17 * self.near(x / 32.0))

    def render(self, t: int) -> np.ndarray:
        """Frame t: 1. sky, 2. stars, 3. clouds, 4. far hills, 5. textured near hills, 6. objects."""
        h, w, pal = self.spec.height, self.spec.width, self.palette
        x = self.x0 - self.spec.caption.dx_px_per_frame * t + np.arange(w) + 0.5
        y = np.arange(h, dtype=np.float64)[:, None] + 0.5
        img = np.repeat(self.sky[:, None, :], w, axis=1)
        if self.stars is not None:
            self.stars.draw(img, x, y)
        blend(img, pal.cloud, self._cloud_alpha(x, y))
        blend(img, pal.far_hills, _below(y, h - self.far_height(x)))
        blend(img, self._ground_color(x, y), _below(y, h - self.near_height(x)))
        self.objects.draw(img, x, y, self.near_height)
        return np.clip(np.rint(img), 0, 255).astype(np.uint8)

    def frames(self, num_frames: int, start: int = 0) -> Iterator[np.ndarray]:
        """Yield frames start .. start + num_frames - 1, one at a time (constant memory)."""
        for t in range(start, start + num_frames):
            yield self.render(t)

    def _cloud_alpha(self, x, y) -> np.ndarray:
        h = self.spec.height
        band = np.exp(-(((y - 0.27 * h) / (0.1 * h)) ** 2))
        density = self.clouds(x / 20.0)[None, :] * band
        return np.clip((density - 0.45) * 4.0, 0.0, 0.85)

    def _ground_color(self, x, y) -> np.ndarray:
        """(H, W, 3): the near-hill colour times a diagonal grass / sand streak texture."""
        streaks = self.texture(x[None, :] / 3.0 + 0.6 * y)
        shade = 1.0 + self.palette.texture * 2.0 * (streaks - 0.5)
        return np.asarray(self.palette.near_hills, dtype=np.float32) * shade[..., None].astype(np.float32)


def _below(y: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Coverage (H, W) of the region below the profile ``top`` (W,): the pixel's fraction under the edge."""
    return np.clip(y + 0.5 - top[None, :], 0.0, 1.0)


def sky_gradient(palette, height: int) -> np.ndarray:
    """(H, 3) float32 sky colour per row: sky_top at the top, easing into sky_horizon by 60 % of the height."""
    y = (np.arange(height) + 0.5) / height
    s = np.clip(y / 0.6, 0.0, 1.0) ** 1.5
    top, horizon = np.asarray(palette.sky_top, np.float32), np.asarray(palette.sky_horizon, np.float32)
    return (top[None] * (1 - s[:, None]) + horizon[None] * s[:, None]).astype(np.float32)


def band_colors(spec: WorldSpec) -> dict[str, list[float]]:
    """Expected mean colour of the top band (sky) and bottom band (near hills) of every frame.

    The evaluation compares the median colour of the same bands (BAND_FRACTION of the rows each) with these.
    """
    palette = PALETTES[spec.caption.palette]
    rows = max(1, int(round(spec.height * BAND_FRACTION)))
    top = sky_gradient(palette, spec.height)[:rows].mean(0)
    return {"top": [round(float(v), 2) for v in top], "bottom": [float(v) for v in palette.near_hills]}
