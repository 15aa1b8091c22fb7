"""Named colour palettes of the synthetic world and the colours of its objects (RGB, 0-255)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Palette:
    """Colours of one landscape. ``phrase`` is the palette's words in the caption grammar."""

    phrase: str
    sky_top: RGB
    sky_horizon: RGB
    cloud: RGB
    far_hills: RGB
    near_hills: RGB
    texture: float = 0.25  # relative brightness swing of the grass / sand texture on the near hills
    stars: bool = False

    def colors(self) -> dict[str, list[int]]:
        """The palette's colours as JSON-ready lists (what the ground-truth sidecar records)."""
        return {k: list(v) for k, v in asdict(self).items() if isinstance(v, tuple)}


PALETTES: dict[str, Palette] = {
    "day": Palette("green hills under a blue sky", (70, 130, 220), (170, 210, 245), (250, 250, 250),
                   (110, 160, 110), (60, 140, 50)),
    "sunset": Palette("dark hills under an orange sunset sky", (60, 40, 110), (250, 140, 60), (250, 180, 150),
                      (90, 60, 90), (45, 40, 50), texture=0.35),
    "night": Palette("dark blue hills under a starry night sky", (5, 8, 30), (30, 45, 95), (60, 70, 100),
                     (25, 35, 70), (15, 22, 55), texture=0.35, stars=True),
    "desert": Palette("sand dunes under a pale sky", (120, 170, 220), (230, 220, 200), (245, 245, 240),
                      (215, 170, 110), (200, 150, 80), texture=0.15),
    "snow": Palette("snowy hills under a grey sky", (150, 160, 175), (215, 220, 228), (240, 240, 245),
                    (200, 205, 215), (240, 242, 248), texture=0.06),
}

# Per object kind: the colours an object's main part may take (chosen per object from the seed), and the
# colour of its second part (tree trunk, house roof, balloon basket).
OBJECT_COLORS: dict[str, tuple[RGB, ...]] = {
    "trees": ((30, 110, 40), (110, 130, 40), (210, 110, 30)),
    "houses": ((190, 50, 40), (230, 200, 70), (235, 235, 230), (60, 90, 180)),
    "balloons": ((220, 40, 50), (240, 210, 40), (50, 100, 220), (240, 120, 180)),
}
OBJECT_DETAIL_COLOR: dict[str, RGB] = {"trees": (90, 60, 30), "houses": (70, 60, 60), "balloons": (120, 80, 40)}
