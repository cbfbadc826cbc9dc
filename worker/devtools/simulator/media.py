"""Video and image-edit jobs as data: what a submit asked for, what it costs, its size.

Video jobs (`video`, `video_extend`) and edit jobs (`edit`, `retexture`) are jobs like the
image ones: they take a place of the account's cap, fail on the same words, call their hook and
show in fetch-list. What differs lives here and in `media_bodies.py` (their fetch answers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from worker.devtools.simulator import rules

VIDEO_ACTIONS = ("video", "video_extend")
EDIT_ACTIONS = ("edit", "retexture")
EDIT_TYPES = EDIT_ACTIONS  # the edit's `type` is its action
MOTIONS = ("low", "high")
RESOLUTIONS = ("sd", "hd")
BATCHES = (1, 2, 4)
ANIMATE_MODES = ("auto", "manual")
#: The aspect ratios Midjourney's editor works in; other images are adjusted to the nearest.
EDIT_RATIOS = ((1, 1), (1, 2), (2, 1), (2, 3), (3, 2), (3, 4), (4, 3), (9, 16), (16, 9))
EDIT_FORMATS = ("png", "jpg", "jpeg", "bmp", "webp")
#: Quota of one video clip by resolution (assumed: TTAPI only says hd costs more).
CLIP_COST = {"sd": 1.0, "hd": 2.0}
#: Quota of an edit in fast mode (the one example TTAPI shows says "4").
EDIT_COST = 4.0


@dataclass(frozen=True)
class VideoSpec:
    """A video submit or extend: start (and end) frame, motion, resolution, clips."""

    image_url: str
    ending_url: str | None
    motion: str
    resolution: str
    batch: int
    animate_mode: str | None = None  # extend only
    index: int | None = None  # extend only: which clip of the parent goes on


@dataclass(frozen=True)
class EditSpec:
    """An image edit: `edit` or `retexture`, in one of EDIT_RATIOS."""

    kind: str
    ratio: tuple[int, int]


Media = VideoSpec | EditSpec


def family(action: str) -> str:
    """`video`, `edit` or `image`: which fetch answers for a job of `action`."""
    if action in VIDEO_ACTIONS:
        return "video"
    if action in EDIT_ACTIONS:
        return "edit"
    return "image"


def cost(action: str, mode: str, media: Media | None) -> float:
    """Quota charged at creation: per clip for videos, per edit, else the image price."""
    if isinstance(media, VideoSpec):
        return CLIP_COST[media.resolution] * media.batch
    if isinstance(media, EditSpec):
        return EDIT_COST * rules.MODE_COST[mode]
    return rules.cost(action, mode)


def nearest_ratio(width: int, height: int) -> tuple[int, int]:
    """The EDIT_RATIOS entry closest to width:height (on a log scale, so 2:1 ~ 1:2)."""
    target = math.log(max(width, 1) / max(height, 1))
    return min(EDIT_RATIOS, key=lambda r: abs(math.log(r[0] / r[1]) - target))


def edit_size(ratio: tuple[int, int]) -> tuple[int, int]:
    """Pixel size of an edited image: 1024 on the long side, in `ratio`."""
    w, h = ratio
    scale = 1024 / max(w, h)
    return round(w * scale), round(h * scale)


def size(action: str, prompt: str, dimensions: str | None, media: Media | None) -> tuple[int, int]:
    """Result size: edits come out in their ratio; videos and images as rules.size says."""
    if isinstance(media, EditSpec):
        return edit_size(media.ratio)
    return rules.size(action, prompt, dimensions)
