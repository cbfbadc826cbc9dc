"""The image kinds: imagine, action, seed, blend, describe and inpaint.

Each has its TTAPI request model (field names are the task's arguments; `body()` renders
TTAPI's spelling: `jobId`, `getUImages`, `imgBase64Array`, `base64`) and its `KindSpec`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, field_validator

from worker.ttapi.errors import InvalidRequest
from worker.ttapi.kinds.args import Account, DataUri, DataUris, ParentId, Prompt, Timeout
from worker.ttapi.kinds.spec import KindSpec, Parent, Then, always
from worker.ttapi.requests import (
    ACTIONS,
    Action,
    Dimensions,
    Mode,
    SubmitRequest,
    check_base64,
    check_data_uri,
)


class ImagineRequest(SubmitRequest):
    """POST /midjourney/v1/imagine: a text prompt (with --ar/--v flags) → a grid of 4 images."""

    path: ClassVar[str] = "/midjourney/v1/imagine"
    prompt: str = Field(min_length=1, max_length=8000)
    mode: Mode = "fast"
    get_u_images: bool = Field(False, alias="getUImages", strict=True)

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()


class ActionRequest(SubmitRequest):
    """POST /midjourney/v1/action: a button (upsample2, upscale_creative, ...) on a parent job."""

    path: ClassVar[str] = "/midjourney/v1/action"
    job_id: str = Field(alias="jobId", min_length=1)
    action: Action


class SeedRequest(SubmitRequest):
    """POST /midjourney/v1/seed: the seed of a parent job."""

    path: ClassVar[str] = "/midjourney/v1/seed"
    job_id: str = Field(alias="jobId", min_length=1)


class BlendRequest(SubmitRequest):
    """POST /midjourney/v1/blend: 2–5 images (data URIs) blended into one."""

    path: ClassVar[str] = "/midjourney/v1/blend"
    images: list[str] = Field(alias="imgBase64Array", min_length=2, max_length=5)
    dimensions: Dimensions = "SQUARE"
    mode: Mode = "fast"

    @field_validator("images")
    @classmethod
    def _data_uris(cls, value: list[str]) -> list[str]:
        return [check_data_uri(v) for v in value]


class DescribeRequest(SubmitRequest):
    """POST /midjourney/v1/describe: one image (data URI) → four prompt suggestions."""

    path: ClassVar[str] = "/midjourney/v1/describe"
    image: str = Field(alias="base64")
    mode: Mode = "fast"

    @field_validator("image")
    @classmethod
    def _data_uri(cls, value: str) -> str:
        return check_data_uri(value)


class InpaintRequest(SubmitRequest):
    """POST /midjourney/v1/inpaint (Vary Region): a mask (data URI or raw base64) on a parent."""

    path: ClassVar[str] = "/midjourney/v1/inpaint"
    job_id: str = Field(alias="jobId", min_length=1)
    mask: str
    prompt: str | None = None

    @field_validator("mask")
    @classmethod
    def _mask(cls, value: str) -> str:
        if value.strip().startswith("data:"):
            return check_data_uri(value)
        if not value.strip():
            raise ValueError("must not be empty")
        check_base64(value)
        return value.strip()


def _press(params: dict[str, Any], parent: Mapping[str, Any]) -> dict[str, Any]:
    """An action presses one of its parent's buttons (`components`)."""
    action = params.get("action")
    if action not in parent["components"]:
        allowed = ", ".join(parent["components"]) or "none"
        raise InvalidRequest(
            f"action: {action!r} is not available on job {parent['job_id']} "
            f"(its components: {allowed})"
        )
    return params


def _grid_after(kwargs: Mapping[str, Any]) -> bool:
    """Whether a button makes a grid of four rather than one image (an upsample or upscale)."""
    action = str(kwargs.get("action") or "")
    return bool(action) and not action.startswith(("upsample", "upscale"))


def _button(params: Mapping[str, Any]) -> str:
    """An action job is reported as the button it pressed."""
    return str(params["action"]) if params.get("action") else "action"


IMAGINE = KindSpec(
    name="imagine",
    request=ImagineRequest,
    args={
        "prompt": Prompt,
        "mode": (Mode, "fast"),
        "timeout": Timeout,
        "get_u_images": (bool, Field(False, strict=True)),
        "account": Account,
    },
    doc="`mj.imagine`: a prompt (with --ar, --v... flags) → a grid of four images.",
    grid=always,
    batch=("mode", "timeout"),
)
ACTION = KindSpec(
    name="action",
    request=ActionRequest,
    args={"parent": ParentId, "action": Action, "timeout": Timeout},
    doc="`mj.action`: a button (upsample2, upscale_creative, ...) on a finished job of yours.",
    parent=Parent.ALWAYS,
    reads=_press,
    grid=_grid_after,
    then=Then(
        needs=("image",),
        needs_said="imagine or action",
        buttons=ACTIONS,
        example="upsample2, upscale_creative",
    ),
    action=_button,
    factor=0.6,
)
SEED = KindSpec(
    name="seed",
    request=SeedRequest,
    args={"parent": ParentId},
    doc="`mj.seed`: the seed of a finished job of yours.",
    parent=Parent.ALWAYS,
    makes=None,
    factor=0.3,
)
BLEND = KindSpec(
    name="blend",
    request=BlendRequest,
    args={
        "images": (DataUris, Field(min_length=2, max_length=5)),
        "dimensions": (Dimensions, "SQUARE"),
        "mode": (Mode, "fast"),
        "account": Account,
    },
    doc="`mj.blend`: 2–5 images (data URIs) blended into one grid.",
    inline=("images",),
    grid=always,
    said="imagine",
)
DESCRIBE = KindSpec(
    name="describe",
    request=DescribeRequest,
    args={"image": DataUri, "mode": (Mode, "fast"), "account": Account},
    doc="`mj.describe`: one image (a data URI) → four prompts.",
    inline=("image",),
    makes=None,
    factor=0.3,
)
INPAINT = KindSpec(
    name="inpaint",
    request=InpaintRequest,
    args={
        "parent": ParentId,
        "mask": DataUri,
        "prompt": (str | None, Field(None, max_length=8000)),
    },
    doc="`mj.inpaint` (Vary Region): a mask (data URI) on a finished job of yours.",
    inline=("mask",),
    parent=Parent.ALWAYS,
    grid=always,
    said="imagine",
)
SPECS = (IMAGINE, ACTION, SEED, BLEND, DESCRIBE, INPAINT)

__all__ = [
    "SPECS",
    "ActionRequest",
    "BlendRequest",
    "DescribeRequest",
    "ImagineRequest",
    "InpaintRequest",
    "SeedRequest",
]
