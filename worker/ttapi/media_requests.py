"""Request models of TTAPI's newer Midjourney jobs: image to video, its extension, image edits.

Same rules as `worker.ttapi.requests`: field names are Python's (the task's arguments),
`body()` renders TTAPI's spelling (`imageUrl`, `endingUrl`, `manual`, `bs`, `animateMode`),
and `validate()` names the field and the rule of every refusal, before any HTTP call.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, field_validator

from worker.ttapi.requests import REQUESTS, Mode, SubmitRequest, check_data_uri

Motion = Literal["low", "high"]
Resolution = Literal["sd", "hd"]
Animate = Literal["auto", "manual"]
EditType = Literal["edit", "retexture"]
BATCHES = (1, 2, 4)
MAX_URL = 4096
#: The image types TTAPI's edit takes.
EDIT_FORMATS = ("png", "jpg", "jpeg", "bmp", "webp")
_MIME = re.compile(r"^data:image/([A-Za-z0-9.+-]+);")


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


class EditRequest(SubmitRequest):
    """POST /midjourney/image-edits/submit: redraw an image's transparent areas (`edit`) or
    restyle all of it (`retexture`) → four images."""

    # Errors name `type`, the task's argument (the field cannot be called so in Python).
    model_config = ConfigDict(loc_by_alias=True)
    path: ClassVar[str] = "/midjourney/image-edits/submit"
    endpoint_name: ClassVar[str] = "image-edits"
    prompt: str = Field(min_length=1, max_length=8000)
    image: str
    edit_type: EditType = Field("edit", alias="type")
    mode: Mode = "fast"

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        return check_prompt(value)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        rule = "must be an http(s) URL or a data URI (png, jpg, jpeg, bmp or webp)"
        text = value.strip()
        if not text.startswith("data:"):
            return check_url(text, rule)
        mime = _MIME.match(text)
        if mime is None or mime.group(1).lower() not in EDIT_FORMATS:
            raise ValueError(rule)
        return check_data_uri(text)


__all__ = [
    "BATCHES",
    "EDIT_FORMATS",
    "REQUESTS_BY_KIND",
    "EditRequest",
    "VideoExtendRequest",
    "VideoRequest",
    "check_url",
]


#: Every submit request by job kind: the image kinds' (`REQUESTS`) and these.
REQUESTS_BY_KIND: dict[str, type[SubmitRequest]] = {
    **REQUESTS,
    "video": VideoRequest,
    "video_extend": VideoExtendRequest,
    "edit": EditRequest,
}
