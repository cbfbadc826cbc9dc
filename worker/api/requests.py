"""What `POST /v1/jobs` takes: one model per job kind, named as the task's arguments, as one union
discriminated on `kind`, plus what every kind shares (`then`, `priority`, `callback_url`,
`metadata`).

These are the API's models, not TTAPI's: each kind's is made here from its spec's task
arguments (`KindSpec.args`, whose types reuse the task's own rules: data URIs, URLs, prompts),
so a body that passes here is one the task accepts, and a kind is described once. Rules that
need the settings or Redis (the inline image limit, a parent job of the caller's) are checked
by `worker.api.jobs`.
"""

from __future__ import annotations

import json
from functools import reduce
from operator import or_
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from worker.jobs.steps import parse_steps
from worker.ttapi.errors import InvalidRequest
from worker.ttapi.kinds import SPECS, KindSpec
from worker.ttapi.kinds.args import MAX_URL
from worker.ttapi.media_requests import check_url

Priority = Literal["high", "normal", "low"]
MAX_STEPS = 10
MAX_METADATA_BYTES = 4096
#: How the `then` field's description shows steps: each step kind's example.
_EXAMPLES = ", ".join(s.then.example for s in SPECS.values() if s.then and s.then.example)


class JobBase(BaseModel):
    """What every kind shares."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)
    kind_name: ClassVar[str] = ""

    then: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list,
        max_length=MAX_STEPS,
        description=f"follow-up steps, as `mjw submit --then` takes them: {_EXAMPLES}, ...",
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


def _model(spec: KindSpec) -> type[JobBase]:
    """The HTTP API's model of a kind: `kind` and the task's arguments, after what all share."""
    model: type[JobBase] = create_model(  # type: ignore[call-overload]
        spec.title,
        __base__=JobBase,
        __doc__=spec.doc,
        __module__=__name__,
        kind=Literal[spec.name],
        **spec.args,
    )
    model.kind_name = spec.name
    return model


KINDS: dict[str, type[JobBase]] = {name: _model(spec) for name, spec in SPECS.items()}
if TYPE_CHECKING:
    JobRequest = JobBase
else:
    JobRequest = Annotated[reduce(or_, KINDS.values()), Field(discriminator="kind")]

__all__ = ["KINDS", "JobBase", "JobRequest", "Priority"]
