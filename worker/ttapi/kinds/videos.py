"""The video kinds: `video` (image to video) and `video_extend` (5 s more of a clip).

Each has its TTAPI request model (field names are the task's arguments; `body()` renders
TTAPI's spelling: `imageUrl`, `endingUrl`, `manual`, `bs`, `animateMode`) and its `KindSpec`.
Video jobs may have a lane of their own (`MJ_VIDEO_CAP`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from worker.ttapi.kinds.spec import VIDEO_FETCH, KindSpec, Parent
from worker.ttapi.media_requests import (
    Animate,
    Motion,
    Resolution,
    check_batch,
    check_prompt,
    check_url,
)
from worker.ttapi.requests import SubmitRequest


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


VIDEO = KindSpec(
    name="video",
    request=VideoRequest,
    fetch=VIDEO_FETCH,
    parent=Parent.MAY,
    local=("index",),
    video=True,
)
VIDEO_EXTEND = KindSpec(
    name="video_extend",
    request=VideoExtendRequest,
    fetch=VIDEO_FETCH,
    parent=Parent.ALWAYS,
    video=True,
)
SPECS = (VIDEO, VIDEO_EXTEND)

__all__ = ["SPECS", "VideoExtendRequest", "VideoRequest"]
