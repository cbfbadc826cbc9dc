"""Where each TTAPI endpoint lives, which jobs each fetch answers for, how submits spell ids."""

from __future__ import annotations

from worker.devtools.simulator.config import (
    FETCH_PATH,
    IMAGE_SUBMITS,
    MEDIA_SUBMITS,
    VIDEO_FETCH_PATH,
)

V1 = "/midjourney/v1/"
ROUTES: dict[tuple[str, str], str] = {
    **{("POST", V1 + name): name for name in IMAGE_SUBMITS},
    ("POST", "/midjourney/video/submit"): "video",
    ("POST", "/midjourney/video/extend"): "video-extend",
    ("POST", "/midjourney/image-edits/submit"): "image-edits",
    ("GET", FETCH_PATH): "fetch",
    ("GET", "/midjourney/image-edits/fetch"): "image-edits-fetch",
    ("GET", V1 + "info"): "info",
    ("GET", V1 + "fetch-list"): "fetch-list",
}
if VIDEO_FETCH_PATH != FETCH_PATH:  # pragma: no cover - only if the decision changes
    ROUTES[("GET", VIDEO_FETCH_PATH)] = "video-fetch"

#: Fetch endpoint → the job families (media.family) it answers for; others are "not found".
FETCH_FAMILIES: dict[str, tuple[str, ...]] = {
    "fetch": ("image", "video") if VIDEO_FETCH_PATH == FETCH_PATH else ("image",),
    "video-fetch": ("video",),
    "image-edits-fetch": ("edit",),
}


def endpoint_of(method: str, path: str) -> str | None:
    """The TTAPI endpoint `method path` names, or None when TTAPI has no such endpoint."""
    return ROUTES.get((method, path.rstrip("/")))


def submit_id_name(endpoint: str, knob: str) -> str:
    """How the answer to a submit at `endpoint` spells the job id (`Faults.submit_id_key`).

    `auto` follows TTAPI's pages: `job_id` for action and the video and edit submits (the newer
    pages), `jobId` for the other v1 submits.
    """
    if knob != "auto":
        return knob
    return "job_id" if endpoint in ("action", *MEDIA_SUBMITS) else "jobId"
