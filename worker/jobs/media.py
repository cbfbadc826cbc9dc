"""Video and edit jobs: what they start from, and what their result carries.

`mj.video` starts from a picture: its `image` (a URL), or picture `index` of a finished image
job (`parent`, a follow-up on the parent's account). `mj.video_extend` continues clip `index`
of a finished video job. `mj.edit` takes an image (a URL or data URI), or the picture of a job
result handed down a chain. Every rule here fails with InvalidRequest naming the field, before
any record or HTTP call (`worker.jobs.spec.make_spec` calls `inputs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from worker.ttapi.errors import InvalidRequest
from worker.ttapi.kinds import is_edit_kind, is_video_kind
from worker.ttapi.responses import JobInfo, JobStatus


def inputs(kind: str, params: dict[str, Any], parent: Mapping[str, Any]) -> dict[str, Any]:
    """The job's parameters with what it takes from its parent (or its chained input) filled
    in; `parent` is the resolved parent of a follow-up, empty for a fresh job."""
    if kind == "video":
        return _video(params, parent)
    if kind == "video_extend":
        return _extend(params, parent)
    if is_edit_kind(kind) and isinstance(params.get("image"), Mapping):
        source = params["image"]
        job = source.get("job_id")
        if source.get("status", JobStatus.SUCCESS) != JobStatus.SUCCESS:
            raise InvalidRequest(f"image: job {job} did not succeed")
        if len(source.get("images") or []) > 1:
            raise InvalidRequest(
                f"image: job {job} made a grid of images: upscale one first (upsample1-4) "
                "or give an image URL"
            )
        return {**params, "image": picture(source, None, field="image")}
    return params


def _video(params: dict[str, Any], parent: Mapping[str, Any]) -> dict[str, Any]:
    if not parent:
        if params.get("image") is None:
            raise InvalidRequest(
                "image: required: the start frame as a public URL, or parent (a finished "
                "image job) and index"
            )
        if params.get("index") not in (None, 0):
            raise InvalidRequest("index: picks a picture of parent; with image, leave it out")
        return params
    if params.get("image") is not None:
        raise InvalidRequest("image: give either image or parent (with index), not both")
    if _is_video(parent):
        raise InvalidRequest(
            f"parent: job {parent.get('job_id')} is a video job; mj.video starts from an "
            "image (mj.video_extend continues a video)"
        )
    frame = picture(parent, params.get("index"), field="parent")
    prompt = params.get("prompt") or parent.get("prompt") or None
    return {**params, "image": frame, "prompt": prompt}


def _extend(params: dict[str, Any], parent: Mapping[str, Any]) -> dict[str, Any]:
    job = parent.get("job_id")
    if not _is_video(parent):
        raise InvalidRequest(f"parent: job {job} is not a video job (mj.video makes one)")
    index = params.get("index")
    clips = len(parent.get("videos") or [])
    if index is None:
        if clips != 1:
            raise InvalidRequest("index: required, an integer from 0 to 3 (which clip goes on)")
        return {**params, "index": 0}
    if isinstance(index, int) and not isinstance(index, bool) and clips and index >= clips:
        raise InvalidRequest(
            f"index: job {job} made {clips} video(s), so index must be below {clips}"
        )
    return params


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


def _is_video(parent: Mapping[str, Any]) -> bool:
    return is_video_kind(str(parent.get("kind") or parent.get("action") or "")) or bool(
        parent.get("videos")
    )


def outputs(kind: str, info: JobInfo) -> dict[str, Any]:
    """`image_url`, `images` and `videos` of a finished job, whichever list TTAPI used.

    A video job's clips may come as `videos`, `videoUrl`, `images` or `cdnImages`; an edit's
    pictures as `cdnImages` (TTAPI's CDN, as `image_url` is for image jobs) or `images`.
    """
    if is_video_kind(kind):
        videos = info.videos or info.images or info.cdn_images
        return {"image_url": info.cdn_image, "images": None, "videos": videos}
    if is_edit_kind(kind):
        images = info.cdn_images or info.images
        return {"image_url": info.cdn_image, "images": images, "videos": None}
    return {"image_url": info.cdn_image, "images": info.images, "videos": info.videos}


__all__ = ["inputs", "outputs", "picture"]
