"""Reading a parent: which picture of a finished image job a follow-up starts from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from worker.ttapi.errors import InvalidRequest


def picture(source: Mapping[str, Any], index: Any, *, field: str) -> str:
    """Picture `index` of a finished image job: `images[index]` of a grid, else its only image
    (`image_url`; after an upscale a job has one image, so `index` is 0 or left out)."""
    job = source.get("job_id")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
        raise InvalidRequest("index: must be an integer from 0 to 3")
    images = [str(u) for u in source.get("images") or [] if u]
    if len(images) > 1:
        if index is None or not 0 <= index < len(images):
            raise InvalidRequest(
                f"index: job {job} has {len(images)} images: choose one, 0 to {len(images) - 1}"
            )
        return images[index]
    url = source.get("image_url") or (images[0] if images else None)
    if not url:
        raise InvalidRequest(f"{field}: job {job} has no image to start from")
    if index not in (None, 0):
        raise InvalidRequest(f"index: job {job} has one image, so index must be 0")
    return str(url)


__all__ = ["picture"]
