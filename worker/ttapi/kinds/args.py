"""The task arguments' types as the HTTP API checks them (each kind's `KindSpec.args`).

They are the API's, not TTAPI's: they speak the tasks' argument names (`parent`, not `jobId`),
and each reuses the task's own rule (data URIs, URLs, prompts), so a body that passes is one the
task accepts. `worker.api.requests` makes one model per kind of them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from worker.ttapi.media_requests import check_url
from worker.ttapi.requests import TIMEOUT_MAX, TIMEOUT_MIN, check_data_uri

#: The longest URL the HTTP API takes (a start frame, an image, a callback).
MAX_URL = 2048


def _data_uris(value: list[str]) -> list[str]:
    return [check_data_uri(v) for v in value]


def _frame(value: str | None) -> str | None:
    return None if value is None else check_url(value, "must be a public http(s) URL")


def _url_or_data_uri(value: str) -> str:
    if value.strip().startswith("data:"):
        return check_data_uri(value)
    return check_url(value, "must be an http(s) URL or a data URI")


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
Timeout = Annotated[int | None, Field(None, ge=TIMEOUT_MIN, le=TIMEOUT_MAX, strict=True)]
#: An image carried inline: a data URI.
DataUri = Annotated[str, AfterValidator(check_data_uri)]
#: 2–5 images, each a data URI.
DataUris = Annotated[list[str], AfterValidator(_data_uris)]
#: A start or end frame: a public http(s) URL (video takes no inline frame).
Frame = Annotated[str | None, AfterValidator(_frame)]
#: An image to edit: an http(s) URL or a data URI.
UrlOrDataUri = Annotated[str, AfterValidator(_url_or_data_uri)]

__all__ = [
    "MAX_URL",
    "Account",
    "DataUri",
    "DataUris",
    "Frame",
    "ParentId",
    "Prompt",
    "Timeout",
    "UrlOrDataUri",
]
