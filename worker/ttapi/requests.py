"""Request models: every submit is validated here before any HTTP call is made.

Field names are Python's; `body()` renders TTAPI's spelling (`jobId`, `hookUrl`, `getUImages`,
`imgBase64Array`, `base64`). `validate()` turns pydantic's errors into one `InvalidRequest`
whose message names the field and the rule.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from config.problems import problems
from worker.policy import DEFAULT_TIMEOUT_S, LONGEST_TIMEOUT_S
from worker.ttapi.errors import InvalidRequest

Mode = Literal["fast", "relax", "turbo"]
Dimensions = Literal["PORTRAIT", "SQUARE", "LANDSCAPE"]
MODES: tuple[str, ...] = ("fast", "relax", "turbo")
ACTIONS: tuple[str, ...] = (
    *(f"upsample{i}" for i in range(1, 5)),
    *(f"variation{i}" for i in range(1, 5)),
    "high_variation",
    "low_variation",
    "upscale2",
    "upscale4",
    "upscale_creative",
    "upscale_subtle",
    "zoom_out_2",
    "zoom_out_1_5",
    "pan_left",
    "pan_right",
    "pan_up",
    "pan_down",
    "reroll",
)
TIMEOUT_MIN, TIMEOUT_MAX = DEFAULT_TIMEOUT_S, LONGEST_TIMEOUT_S
_DATA_URI = re.compile(r"^data:image/[a-zA-Z0-9.+-]+;base64,(?P<b64>[A-Za-z0-9+/=\s]+)$")


def _check_base64(text: str) -> None:
    try:
        base64.b64decode(re.sub(r"\s", "", text), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be valid base64") from None


def check_data_uri(value: str) -> str:
    """Accept `data:image/<type>;base64,<data>` with decodable data; raise ValueError otherwise."""
    match = _DATA_URI.match(value.strip())
    if not match:
        raise ValueError("must be a data URI like data:image/png;base64,...")
    _check_base64(match["b64"])
    return value.strip()


class SubmitRequest(BaseModel):
    """Fields every submit endpoint shares; subclasses name their endpoint in `path`."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, loc_by_alias=False
    )
    path: ClassVar[str] = ""
    endpoint_name: ClassVar[str] = ""  # when the path's last part does not say (`.../submit`)
    hook_url: str | None = Field(None, alias="hookUrl")
    timeout: int | None = Field(None, strict=True, ge=TIMEOUT_MIN, le=TIMEOUT_MAX)

    def body(self) -> dict[str, Any]:
        """The JSON body TTAPI expects (aliases, nothing unset)."""
        return self.model_dump(by_alias=True, exclude_none=True)

    @property
    def endpoint(self) -> str:
        """The endpoint's short name (imagine, action, ..., video, image-edits)."""
        return self.endpoint_name or self.path.rsplit("/", 1)[-1]


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
    action: Literal[ACTIONS]  # type: ignore[valid-type]


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
        _check_base64(value)
        return value.strip()


# The fields of each job kind that carry images inline (data URIs or raw base64).
INLINE_FIELDS: dict[str, tuple[str, ...]] = {
    "blend": ("images",),
    "describe": ("image",),
    "inpaint": ("mask",),
    "edit": ("image",),
}


def check_inline_sizes(kind: str, params: dict[str, Any], limit: int) -> None:
    """Refuse an inline image over `limit` bytes (decoded), naming the field and the limit.

    Checked before anything else (before the base64 is even decoded): an input that is too big
    must cost neither a job record, nor Redis memory, nor an HTTP call.
    """
    for name in INLINE_FIELDS.get(kind, ()):
        value = params.get(name)
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if not isinstance(item, str) or item.startswith(("http://", "https://")):
                continue  # a URL is not an inline image (its length is checked with the URL)
            size = _decoded_size(item)
            if size > limit:
                where = f"{name}[{i}]" if isinstance(value, list) else name
                raise InvalidRequest(
                    f"invalid request: {where}: the image is {size:,} bytes, over the limit of "
                    f"{limit:,} bytes per inline image (MJ_INLINE_IMAGE_MAX_BYTES)"
                )


def _decoded_size(text: str) -> int:
    """About how many bytes a data URI or raw base64 text decodes to (without decoding it)."""
    payload = text.partition(",")[2] if text.startswith("data:") else text
    return len(payload) * 3 // 4


REQUESTS: dict[str, type[SubmitRequest]] = {
    "imagine": ImagineRequest,
    "action": ActionRequest,
    "seed": SeedRequest,
    "blend": BlendRequest,
    "describe": DescribeRequest,
    "inpaint": InpaintRequest,
}
M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], **fields: Any) -> M:
    """Build `model` from fields, or raise InvalidRequest naming each bad field and its rule."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise InvalidRequest(describe_errors(exc)) from None


def describe_errors(exc: ValidationError) -> str:
    """One line per pydantic error: `field: rule` (values that could be secrets are not shown)."""
    parts = [f"{p.where or 'request'}: {p.message}" for p in problems(exc)]
    return "invalid request: " + "; ".join(parts)


def mode_of(params: dict[str, Any], parent: dict[str, Any] | None = None) -> str:
    """The speed mode a job runs in: its own, else its parent's (follow-ups), else fast."""
    return str(params.get("mode") or (parent or {}).get("mode") or "fast")
