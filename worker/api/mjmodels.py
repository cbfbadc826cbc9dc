"""The bodies midjourney-proxy's routes take and the answer its submits give, as novicezk's
protocol (`docs/api.md`, its DTOs) and trueai-org's later form (`SubmitActionDTO`) name them.
Every field is optional here: a missing one is answered with the protocol's code 4, not 422.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class MjSubmit(BaseModel):
    """What every submit may carry."""

    model_config = ConfigDict(extra="allow")
    state: str | None = Field(None, max_length=2000)
    notifyHook: str | None = Field(None, max_length=2048)


class MjImagine(MjSubmit):
    """`/mj/submit/imagine`."""

    prompt: str | None = Field(None, max_length=8000)
    base64Array: list[str] | None = Field(None, max_length=5)


class MjChange(MjSubmit):
    """`/mj/submit/change`."""

    taskId: str | None = Field(None, max_length=64)
    action: str | None = Field(None, max_length=32)
    index: int | None = None


class MjSimpleChange(MjSubmit):
    """`/mj/submit/simple-change`: `content` is `"<task id> U2"`."""

    content: str | None = Field(None, max_length=200)


class MjBlend(MjSubmit):
    """`/mj/submit/blend`."""

    base64Array: list[str] | None = Field(None, max_length=5)
    dimensions: str | None = Field(None, max_length=16)


class MjDescribe(MjSubmit):
    """`/mj/submit/describe`."""

    base64: str | None = None


class MjAction(MjSubmit):
    """`/mj/submit/action` (the later form): a button of a finished task."""

    taskId: str | None = Field(None, max_length=64)
    customId: str | None = Field(None, max_length=200)


class MjIds(BaseModel):
    """`/mj/task/list-by-condition`."""

    ids: list[Annotated[str, Field(max_length=64)]] | None = Field(None, max_length=200)


class SubmitResult(BaseModel):
    """The protocol's answer to a submit: `code` 1 ok (`result` is the task id), 3 not
    found, 4 invalid, 9 failure, 21 existed, 23 queue rejected (quota spent)."""

    code: int
    description: str
    result: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


__all__ = [
    "MjAction",
    "MjBlend",
    "MjChange",
    "MjDescribe",
    "MjIds",
    "MjImagine",
    "MjSimpleChange",
    "MjSubmit",
    "SubmitResult",
]
