"""The job kinds mj-worker speaks, in one place: which are video, which are edits, where TTAPI
reports each of them, and which action name TTAPI gives each.

The engine may route video kinds to a lane of their own (`MJ_VIDEO_CAP`) through
`is_video_kind`; the client fetches every kind at `fetch_path(kind)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

IMAGE_KINDS: tuple[str, ...] = ("imagine", "action", "seed", "blend", "describe", "inpaint")
VIDEO_KINDS: tuple[str, ...] = ("video", "video_extend")
EDIT_KINDS: tuple[str, ...] = ("edit",)
KINDS: tuple[str, ...] = IMAGE_KINDS + VIDEO_KINDS + EDIT_KINDS

FETCH_PATH = "/midjourney/v1/fetch"
#: Where video jobs are fetched. No TTAPI page names it (docs/ttapi-video-edits.md): the
#: decision is the v1 fetch, as the simulator's `VIDEO_FETCH_PATH`. Change it here only.
VIDEO_FETCH_PATH = FETCH_PATH
#: Where image-edit jobs are fetched (TTAPI's image-edits page); the v1 fetch does not know them.
EDIT_FETCH_PATH = "/midjourney/image-edits/fetch"


def is_video_kind(kind: str) -> bool:
    """True for the kinds that make videos (`video`, `video_extend`): what MJ_VIDEO_CAP counts."""
    return kind in VIDEO_KINDS


def is_edit_kind(kind: str) -> bool:
    """True for image edits (`edit`, in either of its types)."""
    return kind in EDIT_KINDS


def fetch_path(kind: str) -> str:
    """The path a job of `kind` is fetched at."""
    if is_edit_kind(kind):
        return EDIT_FETCH_PATH
    if is_video_kind(kind):
        return VIDEO_FETCH_PATH
    return FETCH_PATH


def ttapi_action(kind: str, params: Mapping[str, Any]) -> str:
    """The action TTAPI reports for a job (in fetch and its history): an action's button, an
    edit's type (`edit` or `retexture`), else the kind itself."""
    if kind == "action" and params.get("action"):
        return str(params["action"])
    if is_edit_kind(kind):
        return str(params.get("type") or "edit")
    return kind


__all__ = [
    "EDIT_FETCH_PATH",
    "EDIT_KINDS",
    "FETCH_PATH",
    "IMAGE_KINDS",
    "KINDS",
    "VIDEO_FETCH_PATH",
    "VIDEO_KINDS",
    "fetch_path",
    "is_edit_kind",
    "is_video_kind",
    "ttapi_action",
]
