"""The caption grammar of the synthetic world, and its train / held-out prompt splits.

Every caption is one sentence of a fixed grammar with four fields::

    a camera pans {direction} {speed} over {scene} with {objects}

    direction  left | right
    speed      slowly | steadily | quickly         (0.5 | 1 | 2 px per frame, see SPEED_PX_PER_FRAME)
    scene      the palette's phrase, e.g. "green hills under a blue sky" (see palettes.PALETTES)
    objects    trees | houses | balloons

Example: ``a camera pans left slowly over dark hills under an orange sunset sky with houses``.

The held-out split holds every caption whose (palette, objects) pair is in HELDOUT_PAIRS: each field value
still occurs in training, but those pairs never do, so held-out prompts test composition.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from .palettes import PALETTES

DIRECTIONS = ("left", "right")
SPEEDS = ("slowly", "steadily", "quickly")
OBJECT_KINDS = ("trees", "houses", "balloons")
SPEED_PX_PER_FRAME = {"slowly": 0.5, "steadily": 1.0, "quickly": 2.0}
HELDOUT_PAIRS = frozenset({("day", "trees"), ("desert", "houses"), ("sunset", "balloons")})
SPLITS = ("train", "heldout")


@dataclass(frozen=True)
class Caption:
    """One point of the grammar. ``text`` renders it; :func:`parse_caption` inverts ``text``."""

    direction: str
    speed: str
    palette: str
    objects: str

    def __post_init__(self):
        for name, value, allowed in (("direction", self.direction, DIRECTIONS), ("speed", self.speed, SPEEDS),
                                     ("palette", self.palette, tuple(PALETTES)),
                                     ("objects", self.objects, OBJECT_KINDS)):
            if value not in allowed:
                raise ValueError(f"caption field {name}={value!r} is not in the grammar; use one of {allowed}")

    @property
    def text(self) -> str:
        scene = PALETTES[self.palette].phrase
        return f"a camera pans {self.direction} {self.speed} over {scene} with {self.objects}"

    @property
    def speed_px_per_frame(self) -> float:
        return SPEED_PX_PER_FRAME[self.speed]

    @property
    def dx_px_per_frame(self) -> float:
        """Horizontal content motion on screen, + = rightwards: a camera panning left moves content right."""
        return self.speed_px_per_frame if self.direction == "left" else -self.speed_px_per_frame

    @property
    def split(self) -> str:
        return "heldout" if (self.palette, self.objects) in HELDOUT_PAIRS else "train"


def all_captions() -> list[Caption]:
    """Every caption of the grammar, in a fixed order (direction, speed, palette, objects)."""
    return [Caption(*fields) for fields in itertools.product(DIRECTIONS, SPEEDS, tuple(PALETTES), OBJECT_KINDS)]


def split_captions(split: str) -> list[Caption]:
    """The captions of ``split`` ("train" or "heldout"), in the fixed order of :func:`all_captions`."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
    return [c for c in all_captions() if c.split == split]


def _caption_regex() -> re.Pattern:
    def alt(words):
        return "|".join(re.escape(w) for w in words)

    phrases = {p.phrase: name for name, p in PALETTES.items()}
    return re.compile(rf"a camera pans (?P<direction>{alt(DIRECTIONS)}) (?P<speed>{alt(SPEEDS)}) "
                      rf"over (?P<scene>{alt(phrases)}) with (?P<objects>{alt(OBJECT_KINDS)})")


def parse_caption(text: str) -> Caption:
    """Invert :attr:`Caption.text`; surrounding whitespace and case are ignored."""
    match = _caption_regex().fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"caption {text!r} does not follow the grammar 'a camera pans {{direction}} {{speed}} "
                         f"over {{scene}} with {{objects}}', e.g. {all_captions()[0].text!r}")
    phrases = {p.phrase: name for name, p in PALETTES.items()}
    return Caption(match["direction"], match["speed"], phrases[match["scene"]], match["objects"])
