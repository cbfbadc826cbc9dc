"""What the request models of TTAPI's newer Midjourney jobs share: the values of image to video
and its extension, image edits' formats, and the rules of their fields (URLs, prompts, batches).

The models themselves are their kinds' (`worker.ttapi.kinds.videos`, `.edits`).
"""

from __future__ import annotations

from typing import Any, Literal, get_args
from urllib.parse import urlsplit

Motion = Literal["low", "high"]
Resolution = Literal["sd", "hd"]
Animate = Literal["auto", "manual"]
EditType = Literal["edit", "retexture"]
Batch = Literal[1, 2, 4]
BATCHES: tuple[int, ...] = get_args(Batch)
MAX_URL = 4096
#: The image types TTAPI's edit takes.
EDIT_FORMATS = ("png", "jpg", "jpeg", "bmp", "webp")


def check_url(value: str, rule: str = "must be a public http(s) URL") -> str:
    """Accept an http(s) URL with a host (at most MAX_URL characters); ValueError otherwise."""
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(rule)
    if len(text) > MAX_URL:
        raise ValueError(f"must be at most {MAX_URL} characters")
    return text


def check_prompt(value: str) -> str:
    """A prompt with something in it, stripped."""
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def check_batch(value: Any) -> int:
    """1, 2 or 4 (an int, never a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in BATCHES:
        raise ValueError("must be 1, 2 or 4")
    return value


__all__ = [
    "BATCHES",
    "EDIT_FORMATS",
    "Animate",
    "Batch",
    "EditType",
    "Motion",
    "Resolution",
    "check_batch",
    "check_prompt",
    "check_url",
]
