"""Synthetic long-video world: endless procedural pans with captions from a small grammar.

CLI: ``python -m tools.synthetic.generate --help`` (that module also holds ``generate`` and ``plan_videos``).
Library: :class:`World` renders frames lazily from a :class:`WorldSpec`; :mod:`.captions` holds the grammar and
the train / held-out splits.
"""
from .captions import (DIRECTIONS, HELDOUT_PAIRS, OBJECT_KINDS, SPEED_PX_PER_FRAME, SPEEDS, SPLITS, Caption,
                       all_captions, parse_caption, split_captions)
from .mp4 import write_mp4
from .palettes import PALETTES
from .world import BAND_FRACTION, World, WorldSpec, band_colors

__all__ = ["BAND_FRACTION", "Caption", "DIRECTIONS", "HELDOUT_PAIRS", "OBJECT_KINDS", "PALETTES", "SPEEDS",
           "SPEED_PX_PER_FRAME", "SPLITS", "World", "WorldSpec", "all_captions", "band_colors",
           "parse_caption", "split_captions", "write_mp4"]
