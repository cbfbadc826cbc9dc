"""The video kinds: `video` (image to video) and `video_extend` (5 s more of a clip).

Each has its TTAPI request model (field names are the task's arguments; `body()` renders
TTAPI's spelling: `imageUrl`, `endingUrl`, `manual`, `bs`, `animateMode`) and its `KindSpec`.
`mj.video` starts from a picture: its `image` (a URL), or picture `index` of a finished image
job (`parent`, a follow-up on the parent's account). `mj.video_extend` continues clip `index`
of a finished video job. Video jobs may have a lane of their own (`MJ_VIDEO_CAP`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, get_args

from pydantic import Field, field_validator

from worker.ttapi.errors import InvalidRequest
from worker.ttapi.kinds.args import MAX_URL, Account, Frame, ParentId
from worker.ttapi.kinds.parents import picture
from worker.ttapi.kinds.spec import VIDEO_FETCH, KindSpec, Parent, Then
from worker.ttapi.media_requests import (
    BATCHES,
    Animate,
    Batch,
    Motion,
    Resolution,
    check_batch,
    check_prompt,
    check_url,
)
from worker.ttapi.requests import SubmitRequest
from worker.ttapi.responses import JobInfo


class VideoRequest(SubmitRequest):
    """POST /midjourney/video/submit: a start frame (a public URL) and a prompt → clips of 5 s."""

    path: ClassVar[str] = "/midjourney/video/submit"
    endpoint_name: ClassVar[str] = "video"
    prompt: str = Field(min_length=1, max_length=8000)
    image: str = Field(alias="imageUrl")
    end_image: str | None = Field(None, alias="endingUrl")
    motion: Motion = Field("low", alias="manual")
    resolution: Resolution = "sd"
    batch: int = Field(4, alias="bs")

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        return check_prompt(value)

    @field_validator("image", "end_image")
    @classmethod
    def _frame(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.strip().startswith("data:"):
            raise ValueError("must be a public http(s) URL (TTAPI's video takes no inline image)")
        return check_url(value)

    @field_validator("batch", mode="before")
    @classmethod
    def _batch(cls, value: Any) -> int:
        return check_batch(value)


class VideoExtendRequest(SubmitRequest):
    """POST /midjourney/video/extend: 5 s more of clip `index` of a finished video job."""

    path: ClassVar[str] = "/midjourney/video/extend"
    endpoint_name: ClassVar[str] = "video-extend"
    job_id: str = Field(alias="jobId", min_length=1)
    index: int = Field(strict=True, ge=0, le=3)
    motion: Motion = Field("low", alias="manual")
    animate: Animate = Field("auto", alias="animateMode")


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


def _is_video(parent: Mapping[str, Any]) -> bool:
    """Whether a parent made videos: by its kind (or TTAPI's action for it), or its clips."""
    made_by = str(parent.get("kind") or parent.get("action") or "")
    return made_by in {s.name for s in SPECS} or bool(parent.get("videos"))


def _clips(info: JobInfo) -> dict[str, Any]:
    """A video job's media: its clips, as `videos`, `videoUrl`, `images` or `cdnImages`."""
    videos = info.videos or info.images or info.cdn_images
    return {"image_url": info.cdn_image, "images": None, "videos": videos}


VIDEO = KindSpec(
    name="video",
    request=VideoRequest,
    args={
        "image": (Frame, Field(None, max_length=MAX_URL)),
        "parent": (ParentId | None, None),
        "index": (int | None, Field(None, ge=0, le=3, strict=True)),
        "prompt": (str | None, Field(None, max_length=8000)),
        "end_image": (Frame, Field(None, max_length=MAX_URL)),
        "motion": (Motion, "low"),
        "resolution": (Resolution, "sd"),
        "batch": (Batch, 4),
        "account": Account,
    },
    doc="`mj.video`: clips of about 5 s from `image` (a public URL), or from picture `index` of\n"
    "a finished image job of yours (`parent`).",
    fetch=VIDEO_FETCH,
    parent=Parent.MAY,
    local=("index",),
    reads=_video,
    outputs=_clips,
    makes="video",
    then=Then(
        needs=("image", "edit"),
        needs_said="image",
        bare={"low": "motion", "high": "motion", "sd": "resolution", "hd": "resolution"},
        choices={"motion": get_args(Motion), "resolution": get_args(Resolution), "batch": BATCHES},
        picks=True,
        example="video:high",
    ),
    batch=("image", "end_image", "motion", "resolution", "batch"),
    video=True,
)
VIDEO_EXTEND = KindSpec(
    name="video_extend",
    request=VideoExtendRequest,
    args={
        "parent": ParentId,
        "index": (int, Field(ge=0, le=3, strict=True)),
        "motion": (Motion, "low"),
        "animate": (Animate, "auto"),
    },
    doc="`mj.video_extend`: 5 s more of clip `index` of a finished video job of yours.",
    fetch=VIDEO_FETCH,
    parent=Parent.ALWAYS,
    reads=_extend,
    outputs=_clips,
    makes="video",
    then=Then(
        needs=("video",),
        needs_said="video",
        bare={"low": "motion", "high": "motion", "auto": "animate", "manual": "animate"},
        choices={"motion": get_args(Motion), "animate": get_args(Animate)},
        example="video_extend:0",
    ),
    video=True,
)
SPECS = (VIDEO, VIDEO_EXTEND)

__all__ = ["SPECS", "VideoExtendRequest", "VideoRequest"]
