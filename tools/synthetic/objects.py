"""Objects (trees, houses, balloons) and stars pinned to world positions, drawn with anti-aliased shapes.

Notation (all float, pixels):

    x : (W,)  world column of each screen column's centre (the camera offset included)
    y : (H, 1) row of each pixel centre, 0 at the top
    img : (H, W, 3) float32 canvas in 0-255, blended in place

The world is cut into cells of ``cell_px`` columns; cell k may hold one item whose presence, position, size
and colour are rows of tables drawn once from the seed. Nothing is random at render time, so any frame of
an endless pan is reproducible on its own (frames can be rendered lazily, in any order).
"""
from __future__ import annotations

import numpy as np

from .palettes import OBJECT_COLORS, OBJECT_DETAIL_COLOR

TABLE_CELLS = 4096


def blend(img: np.ndarray, color, alpha: np.ndarray) -> None:
    """img <- img + alpha * (color - img); color is an RGB triple or an (H, W, 3) array, alpha (H, W)."""
    img += alpha[..., None] * (np.asarray(color, dtype=np.float32) - img)


def box(x, y, cx, cy, half_w, half_h) -> np.ndarray:
    """Coverage (H, W) in [0, 1] of an axis-aligned box, anti-aliased over one pixel."""
    sd = np.maximum(np.abs(x[None, :] - cx) - half_w, np.abs(y - cy) - half_h)
    return np.clip(0.5 - sd, 0.0, 1.0)


def disc(x, y, cx, cy, radius) -> np.ndarray:
    """Coverage (H, W) of a disc."""
    return np.clip(0.5 - (np.hypot(x[None, :] - cx, y - cy) - radius), 0.0, 1.0)


def roof(x, y, cx, top, bottom, half_w) -> np.ndarray:
    """Coverage (H, W) of an isosceles triangle: apex (cx, top), base row ``bottom`` of half width half_w."""
    frac = np.clip((y - top) / (bottom - top), 0.0, 1.0)
    side = (np.abs(x[None, :] - cx) - half_w * frac) * (bottom - top) / np.hypot(bottom - top, half_w)
    sd = np.maximum(side, np.maximum(top - y, y - bottom))
    return np.clip(0.5 - sd, 0.0, 1.0)


def visible_cells(x: np.ndarray, cell_px: float, margin_px: float) -> np.ndarray:
    """Indices of the world cells whose items may touch the columns ``x`` (items reach margin_px out)."""
    first = int(np.floor((x.min() - margin_px) / cell_px))
    last = int(np.floor((x.max() + margin_px) / cell_px))
    return np.arange(first, last + 1)


class ObjectField:
    """One kind of object ("trees", "houses" or "balloons") scattered along the world."""

    cell_px = 40.0

    def __init__(self, rng: np.random.Generator, kind: str, height: int):
        if kind not in OBJECT_COLORS:
            raise ValueError(f"unknown object kind {kind!r}; use one of {tuple(OBJECT_COLORS)}")
        self.kind, self.height, self.unit = kind, height, height / 64.0
        self.present = rng.random(TABLE_CELLS) < 0.6
        self.offset = rng.uniform(8.0, self.cell_px - 8.0, TABLE_CELLS)
        self.size = rng.uniform(0.8, 1.25, TABLE_CELLS)
        self.color = rng.integers(0, len(OBJECT_COLORS[kind]), TABLE_CELLS)
        self.altitude = rng.uniform(0.15, 0.4, TABLE_CELLS)  # balloons: centre row / height

    def draw(self, img, x, y, ground_height) -> None:
        """Draw every object near the screen; ``ground_height(cx)`` is the ground's height (px from the bottom)."""
        for cell in visible_cells(x, self.cell_px, 12.0 * self.unit):
            k = cell % TABLE_CELLS
            if not self.present[k]:
                continue
            cx = cell * self.cell_px + self.offset[k]
            s = self.unit * self.size[k]
            main, detail = OBJECT_COLORS[self.kind][self.color[k]], OBJECT_DETAIL_COLOR[self.kind]
            if self.kind == "balloons":
                _balloon(img, x, y, cx, self.altitude[k] * self.height, s, main, detail)
            else:
                base = self.height - float(ground_height(np.array([cx]))[0]) + 1.0
                (_tree if self.kind == "trees" else _house)(img, x, y, cx, base, s, main, detail)


def _tree(img, x, y, cx, base, s, main, detail):
    blend(img, detail, box(x, y, cx, base - 2.5 * s, 0.8 * s, 2.5 * s))
    blend(img, main, disc(x, y, cx, base - 7.5 * s, 4.0 * s))


def _house(img, x, y, cx, base, s, main, detail):
    blend(img, main, box(x, y, cx, base - 3.5 * s, 5.0 * s, 3.5 * s))
    blend(img, detail, roof(x, y, cx, base - 11.5 * s, base - 7.0 * s, 6.5 * s))


def _balloon(img, x, y, cx, cy, s, main, detail):
    blend(img, main, disc(x, y, cx, cy, 3.5 * s))
    blend(img, detail, box(x, y, cx, cy + 5.5 * s, 1.0 * s, 0.9 * s))


class StarField:
    """Small Gaussian dots in the upper half of the sky (night palettes), pinned to world cells."""

    cell_px = 6.0

    def __init__(self, rng: np.random.Generator, height: int):
        self.present = rng.random(TABLE_CELLS) < 0.5
        self.offset = rng.uniform(0.0, self.cell_px, TABLE_CELLS)
        self.row = rng.uniform(0.02, 0.5, TABLE_CELLS) * height
        self.brightness = rng.uniform(0.4, 1.0, TABLE_CELLS)

    def draw(self, img, x, y) -> None:
        cells = visible_cells(x, self.cell_px, 2.0)
        k = cells % TABLE_CELLS
        k, cells = k[self.present[k]], cells[self.present[k]]
        if len(k) == 0:
            return
        sx = (cells * self.cell_px + self.offset[k])[:, None, None]
        d2 = (x[None, None, :] - sx) ** 2 + (y[None] - self.row[k][:, None, None]) ** 2
        alpha = (self.brightness[k][:, None, None] * np.exp(-d2 / (2 * 0.45 ** 2))).sum(0)
        blend(img, (255, 255, 235), np.clip(alpha, 0.0, 1.0))
