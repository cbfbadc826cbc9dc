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

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
#: One of ACTIONS, as a field's type.
Action = Literal[ACTIONS]  # type: ignore[valid-type]
TIMEOUT_MIN, TIMEOUT_MAX = DEFAULT_TIMEOUT_S, LONGEST_TIMEOUT_S
_DATA_URI = re.compile(r"^data:image/[a-zA-Z0-9.+-]+;base64,(?P<b64>[A-Za-z0-9+/=\s]+)$")


def check_base64(text: str) -> None:
    """Raise ValueError unless `text` is valid base64 (whitespace ignored)."""
    try:
        base64.b64decode(re.sub(r"\s", "", text), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be valid base64") from None


def check_data_uri(value: str) -> str:
    """Accept `data:image/<type>;base64,<data>` with decodable data; raise ValueError otherwise."""
    match = _DATA_URI.match(value.strip())
    if not match:
        raise ValueError("must be a data URI like data:image/png;base64,...")
    check_base64(match["b64"])
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
