"""The image-edit kind, `edit`: redraw an image's transparent areas, or restyle all of it.

Its TTAPI request model (errors name `type`, the task's argument) and its `KindSpec`. `mj.edit`
takes an image (a URL or data URI), or the picture of a job result handed down a chain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import ConfigDict, Field, field_validator

from worker.ttapi.errors import InvalidRequest
from worker.ttapi.kinds.args import Account, Prompt, UrlOrDataUri
from worker.ttapi.kinds.parents import picture
from worker.ttapi.kinds.spec import EDIT_FETCH, KindSpec, always
from worker.ttapi.media_requests import EDIT_FORMATS, EditType, check_prompt, check_url
from worker.ttapi.requests import Mode, SubmitRequest, check_data_uri
from worker.ttapi.responses import JobInfo, JobStatus

_MIME = re.compile(r"^data:image/([A-Za-z0-9.+-]+);")


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


def _chained(params: dict[str, Any], parent: Mapping[str, Any]) -> dict[str, Any]:
    """An edit in a chain takes the previous step's result (its one picture) as its image."""
    source = params.get("image")
    if not isinstance(source, Mapping):
        return params
    job = source.get("job_id")
    if source.get("status", JobStatus.SUCCESS) != JobStatus.SUCCESS:
        raise InvalidRequest(f"image: job {job} did not succeed")
    if len(source.get("images") or []) > 1:
        raise InvalidRequest(
            f"image: job {job} made a grid of images: upscale one first (upsample1-4) "
            "or give an image URL"
        )
    return {**params, "image": picture(source, None, field="image")}


def _pictures(info: JobInfo) -> dict[str, Any]:
    """An edit's media: its pictures, as `cdnImages` (TTAPI's CDN) or `images`."""
    images = info.cdn_images or info.images
    return {"image_url": info.cdn_image, "images": images, "videos": None}


def _edit_type(params: Mapping[str, Any]) -> str:
    """An edit is reported as its type (`edit` or `retexture`)."""
    return str(params.get("type") or "edit")


EDIT = KindSpec(
    name="edit",
    request=EditRequest,
    args={
        "image": UrlOrDataUri,
        "prompt": Prompt,
        "type": (EditType, "edit"),
        "mode": (Mode, "fast"),
        "account": Account,
    },
    doc="`mj.edit`: redraw the transparent areas of `image` (a URL or a data URI) after `prompt`,\n"
    "or restyle all of it (`type: retexture`).",
    fetch=EDIT_FETCH,
    inline=("image",),
    reads=_chained,
    outputs=_pictures,
    makes="edit",
    grid=always,
    batch=("image", "type", "mode"),
    action=_edit_type,
)
SPECS = (EDIT,)

__all__ = ["SPECS", "EditRequest"]
