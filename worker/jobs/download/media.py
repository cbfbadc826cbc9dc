"""Which URLs of a job result are downloaded, and the file extension each one gets."""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from worker.ttapi import errors

#: Extensions taken from a URL's path; anything else falls back to the Content-Type.
IMAGE_EXTS = ("png", "jpg", "jpeg", "webp", "gif")


def image_urls(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(stem, url) of every image of a job result: `main` for `image_url`, then `1`..`4`."""
    pairs: list[tuple[str, str]] = []
    if result.get("image_url"):
        pairs.append(("main", str(result["image_url"])))
    pairs += [(str(n), str(url)) for n, url in enumerate(result.get("images") or [], 1) if url]
    if not pairs:
        raise errors.InvalidRequest(
            f"result: job {result.get('job_id')} has no image_url and no images to download"
        )
    return pairs


def extension(url: str, content_type: str | None) -> str:
    """The file extension: from the URL's path, else from the Content-Type, else `png`."""
    suffix = PurePosixPath(urlsplit(url).path).suffix.lstrip(".").lower()
    if suffix in IMAGE_EXTS:
        return "jpg" if suffix == "jpeg" else suffix
    mime = (content_type or "").split(";")[0].strip().lower()
    guessed = ""
    if mime.startswith("image/"):
        guessed = (mimetypes.guess_extension(mime) or "").lstrip(".")
    if guessed in IMAGE_EXTS:
        return "jpg" if guessed == "jpeg" else guessed
    return "png"
