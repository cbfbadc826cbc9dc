"""What `POST /v1/jobs` takes: one model per job kind, named as the task's arguments, as one union
discriminated on `kind`, plus what every kind shares (`then`, `priority`, `callback_url`,
`metadata`).

These are the API's models, not TTAPI's (`worker.ttapi.requests`): they speak the tasks'
argument names, and each field reuses the task's own rule (data URIs, URLs, prompts), so a body
that passes here is one the task accepts. Rules that need the settings or Redis (the inline image
limit, a parent job of the caller's) are checked by `worker.api.jobs`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from worker.jobs.steps import parse_steps
from worker.ttapi.errors import InvalidRequest
from worker.ttapi.media_requests import check_url
from worker.ttapi.requests import ACTIONS, TIMEOUT_MAX, TIMEOUT_MIN, check_data_uri

Mode = Literal["fast", "relax", "turbo"]
Priority = Literal["high", "normal", "low"]
ParentId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="the id of one of your succeeded jobs: its last step's result is the parent",
    ),
]
Prompt = Annotated[str, Field(min_length=1, max_length=8000, pattern=r"\S")]
Account = Annotated[
    str | None,
    Field(
        None,
        max_length=64,
        description="pin an account label (acct-…); only tenants allowed to (see the README)",
    ),
]
MAX_STEPS = 10
MAX_METADATA_BYTES = 4096
MAX_URL = 2048


def _data_uri(value: str) -> str:
    return check_data_uri(value)


class JobBase(BaseModel):
    """What every kind shares."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)
    kind_name: ClassVar[str] = ""

    then: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list,
        max_length=MAX_STEPS,
        description="follow-up steps, as `mjw submit --then` takes them: upsample2, "
        "upscale_creative, video:high, video_extend:0, ...",
    )
    priority: Priority = "normal"
    callback_url: str | None = Field(
        None,
        max_length=MAX_URL,
        pattern=r"^https?://[^\s/]+",
        description="called when the job ends (Standard Webhooks, signed with your token's "
        "webhook secret); a public http(s) URL",
    )
    metadata: dict[str, Any] | None = Field(
        None, description=f"yours, returned as given (at most {MAX_METADATA_BYTES} bytes as JSON)"
    )

    @field_validator("then")
    @classmethod
    def _steps(cls, value: list[str]) -> list[str]:
        try:
            parse_steps(value, cls.kind_name)  # each step after what the one before made
        except InvalidRequest as exc:
            raise ValueError(str(exc).removeprefix("then: ")) from None
        return value

    @field_validator("callback_url")
    @classmethod
    def _callback(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value, "must be an http(s) URL")

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(json.dumps(value)) > MAX_METADATA_BYTES:
            raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes as JSON")
        return value

    def task_kwargs(self) -> dict[str, Any]:
        """The first task's keyword arguments (unset optional ones left out)."""
        shared = set(JobBase.model_fields) | {"kind"}
        data = self.model_dump(exclude=shared, exclude_none=True)
        return {k: v for k, v in data.items() if k != "parent"}


class Imagine(JobBase):
    """`mj.imagine`: a prompt (with --ar, --v... flags) → a grid of four images."""

    kind_name: ClassVar[str] = "imagine"
    kind: Literal["imagine"]
    prompt: Prompt
    mode: Mode = "fast"
    timeout: int | None = Field(None, ge=TIMEOUT_MIN, le=TIMEOUT_MAX, strict=True)
    get_u_images: bool = Field(False, strict=True)
    account: Account


class Action(JobBase):
    """`mj.action`: a button (upsample2, upscale_creative, ...) on a finished job of yours."""

    kind_name: ClassVar[str] = "action"
    kind: Literal["action"]
    parent: ParentId
    action: Literal[ACTIONS]  # type: ignore[valid-type]
    timeout: int | None = Field(None, ge=TIMEOUT_MIN, le=TIMEOUT_MAX, strict=True)


class Seed(JobBase):
    """`mj.seed`: the seed of a finished job of yours."""

    kind_name: ClassVar[str] = "seed"
    kind: Literal["seed"]
    parent: ParentId


class Blend(JobBase):
    """`mj.blend`: 2–5 images (data URIs) blended into one grid."""

    kind_name: ClassVar[str] = "blend"
    kind: Literal["blend"]
    images: list[str] = Field(min_length=2, max_length=5)
    dimensions: Literal["PORTRAIT", "SQUARE", "LANDSCAPE"] = "SQUARE"
    mode: Mode = "fast"
    account: Account

    @field_validator("images")
    @classmethod
    def _images(cls, value: list[str]) -> list[str]:
        return [_data_uri(v) for v in value]


class Describe(JobBase):
    """`mj.describe`: one image (a data URI) → four prompts."""

    kind_name: ClassVar[str] = "describe"
    kind: Literal["describe"]
    image: str
    mode: Mode = "fast"
    account: Account

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        return _data_uri(value)


class Inpaint(JobBase):
    """`mj.inpaint` (Vary Region): a mask (data URI) on a finished job of yours."""

    kind_name: ClassVar[str] = "inpaint"
    kind: Literal["inpaint"]
    parent: ParentId
    mask: str
    prompt: str | None = Field(None, max_length=8000)

    @field_validator("mask")
    @classmethod
    def _mask(cls, value: str) -> str:
        return _data_uri(value)


class Video(JobBase):
    """`mj.video`: clips of about 5 s from `image` (a public URL), or from picture `index` of
    a finished image job of yours (`parent`)."""

    kind_name: ClassVar[str] = "video"
    kind: Literal["video"]
    image: str | None = Field(None, max_length=MAX_URL)
    parent: ParentId | None = None
    index: int | None = Field(None, ge=0, le=3, strict=True)
    prompt: str | None = Field(None, max_length=8000)
    end_image: str | None = Field(None, max_length=MAX_URL)
    motion: Literal["low", "high"] = "low"
    resolution: Literal["sd", "hd"] = "sd"
    batch: Literal[1, 2, 4] = 4
    account: Account

    @field_validator("image", "end_image")
    @classmethod
    def _frame(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value, "must be a public http(s) URL")


class VideoExtend(JobBase):
    """`mj.video_extend`: 5 s more of clip `index` of a finished video job of yours."""

    kind_name: ClassVar[str] = "video_extend"
    kind: Literal["video_extend"]
    parent: ParentId
    index: int = Field(ge=0, le=3, strict=True)
    motion: Literal["low", "high"] = "low"
    animate: Literal["auto", "manual"] = "auto"


class Edit(JobBase):
    """`mj.edit`: redraw the transparent areas of `image` (a URL or a data URI) after `prompt`,
    or restyle all of it (`type: retexture`)."""

    kind_name: ClassVar[str] = "edit"
    kind: Literal["edit"]
    image: str
    prompt: Prompt
    type: Literal["edit", "retexture"] = "edit"
    mode: Mode = "fast"
    account: Account

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if value.strip().startswith("data:"):
            return _data_uri(value)
        return check_url(value, "must be an http(s) URL or a data URI")


JobRequest = Annotated[
    Imagine | Action | Seed | Blend | Describe | Inpaint | Video | VideoExtend | Edit,
    Field(discriminator="kind"),
]
KINDS: dict[str, type[JobBase]] = {
    m.kind_name: m
    for m in (Imagine, Action, Seed, Blend, Describe, Inpaint, Video, VideoExtend, Edit)
}

__all__ = ["KINDS", "JobBase", "JobRequest", "Priority"]
