"""Which URLs of a job result are downloaded, and the file extension each one gets.

A result names its files in `image_url` (stored as `main`), `images` (`1`..`4`) and, for a
video job, `videos` (`video-1`..). A file is stored only if it is an image (`image/*`) or an
MP4 video (`video/mp4`): the Content-Type decides, and a body sent without one (or as
`application/octet-stream`) is accepted only when the URL's path ends in a known extension.
Anything else, a sign-in page served with 200 above all, is refused (UnsupportedContent).
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from worker.jobs.download.errors import UnsupportedContent
from worker.ttapi import errors

#: Image extensions taken from a URL's path; `jpeg` is stored as `jpg`.
IMAGE_EXTS = ("png", "jpg", "jpeg", "webp", "gif")
VIDEO_TYPES = {"video/mp4": "mp4"}
#: Content-Types that say nothing about the body: the URL's extension decides.
UNTYPED = ("", "application/octet-stream", "binary/octet-stream")


def media_urls(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(stem, url) of every file of a job result: `main`, `1`..`4`, then `video-1`.."""
    pairs: list[tuple[str, str]] = []
    if result.get("image_url"):
        pairs.append(("main", str(result["image_url"])))
    pairs += [(str(n), str(url)) for n, url in enumerate(result.get("images") or [], 1) if url]
    videos = result.get("videos") or []
    pairs += [(f"video-{n}", str(url)) for n, url in enumerate(videos, 1) if url]
    if not pairs:
        raise errors.InvalidRequest(
            f"result: job {result.get('job_id')} has no image_url, images or videos to download"
        )
    return pairs


def extension(url: str, content_type: str | None) -> str:
    """The extension of a file served as `content_type` from `url` (UnsupportedContent if
    it is neither an image nor an MP4 video)."""
    mime = (content_type or "").split(";")[0].strip().lower()
    suffix = PurePosixPath(urlsplit(url).path).suffix.lstrip(".").lower()
    if mime.startswith("image/"):
        if suffix in IMAGE_EXTS:
            return _normal(suffix)
        guessed = (mimetypes.guess_extension(mime) or "").lstrip(".")
        return _normal(guessed) if guessed.isalnum() else "png"
    if mime in VIDEO_TYPES:
        return VIDEO_TYPES[mime]
    if mime in UNTYPED and suffix in (*IMAGE_EXTS, *VIDEO_TYPES.values()):
        return _normal(suffix)
    raise UnsupportedContent(
        f"download from {urlsplit(url).hostname}: Content-Type {mime[:60] or '(none)'} is "
        "neither an image nor an MP4 video; not stored"
    )


def _normal(ext: str) -> str:
    return "jpg" if ext in ("jpeg", "jpe") else ext
