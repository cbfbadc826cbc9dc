"""What a job kind is, in one record: `KindSpec`.

Everything that differs between kinds is a field of its spec (the specs themselves are in
`images`, `videos` and `edits` beside this module); everything else looks a kind up in the
registry (`worker.ttapi.kinds`) instead of naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from worker.ttapi.errors import InvalidRequest
from worker.ttapi.requests import SubmitRequest, validate
from worker.ttapi.responses import JobInfo

#: How a kind reads its parent: (the task's parameters, the resolved parent of a follow-up or
#: {} for a fresh job) → the parameters with what it takes from the parent filled in; raises
#: InvalidRequest naming the field, before any record or HTTP call.
Reader = Callable[[dict[str, Any], Mapping[str, Any]], dict[str, Any]]
#: How a kind maps TTAPI's answer to the job result's media: `image_url`, `images`, `videos`.
Outputs = Callable[[JobInfo], dict[str, Any]]


def always(kwargs: Mapping[str, Any]) -> bool:
    """A kind that always makes a grid of four pictures."""
    return True


def never(kwargs: Mapping[str, Any]) -> bool:
    """A kind that never makes a grid."""
    return False


@dataclass(frozen=True)
class Then:
    """How a kind is spelled as a follow-up step: `--then`, batch rows' and schedules' `then`,
    the HTTP API's `then` (`worker.jobs.steps` reads them).

    `name[:OPTIONS]`, OPTIONS comma-separated, each `option=value` or a bare value that names
    its option (`bare`), or a digit 0-3 (`index`); `choices` are each option's values. A kind
    with `buttons` is spelled as one of them alone instead (it sets the task's `action`).
    """

    needs: tuple[str, ...]  # what the step before must have made (a KindSpec's `makes`)
    needs_said: str  # ... as an error says it
    bare: Mapping[str, str] = field(default_factory=dict)
    choices: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    buttons: tuple[str, ...] = ()
    picks: bool = False  # takes one picture of the step before: after a grid, needs `index`
    example: str = ""  # how the HTTP API's and the CLI's help show it


def as_given(params: dict[str, Any], parent: Mapping[str, Any]) -> dict[str, Any]:
    """A kind that takes nothing from its parent beyond its job id."""
    return params


def image_outputs(info: JobInfo) -> dict[str, Any]:
    """An image job's media, as TTAPI gives them (`cdnImage`, `images`)."""
    return {"image_url": info.cdn_image, "images": info.images, "videos": info.videos}


@dataclass(frozen=True)
class Fetch:
    """Where jobs of a kind are fetched, and how an error names that endpoint."""

    path: str
    endpoint: str


V1_FETCH = Fetch("/midjourney/v1/fetch", "fetch")
#: Where image-edit jobs are fetched (TTAPI's image-edits page); the v1 fetch does not know them.
EDIT_FETCH = Fetch("/midjourney/image-edits/fetch", "image-edits fetch")
#: Where video jobs are fetched. No TTAPI page names it (docs/ttapi-video-edits.md): the
#: decision is the v1 fetch, as the simulator's `VIDEO_FETCH_PATH`. Change it here only.
VIDEO_FETCH = V1_FETCH


class Parent(StrEnum):
    """Whether a kind is a follow-up of an earlier job (and then runs on its parent's account)."""

    NONE = "none"  # never (a fresh job)
    MAY = "may"  # when given a parent (`mj.video` from a finished image job)
    ALWAYS = "always"  # always: its request names the parent (`jobId`)


@dataclass(frozen=True)
class KindSpec:
    """One job kind: everything mj-worker needs to know to run it.

    TTAPI     `request` (its model; its `path` is where the kind is submitted), `fetch`,
              `action` (how TTAPI names such a job in fetch and its history; None: the kind's
              name), `outputs` (where TTAPI's answer keeps the job result's media)
    inputs    `args` (the task's arguments but `tenant` and `priority`, as the HTTP API takes
              them: pydantic field definitions in order, of which `worker.api.requests` makes
              the kind's model, named `title`, described by `doc`), `inline` (the arguments
              that may carry an image inline: their size is checked before anything else),
              `local` (the arguments the request does not carry), `batch` (those a batch row
              takes, when a row may start with the kind)
    parents   `parent` (whether it follows an earlier job), `reads` (how it takes its inputs
              from that job, or from a result handed down a chain)
    chains    `makes` (what a step after it needs: image, video, edit; None: no step may
              follow it), `grid` (whether it makes four pictures, given its step's arguments),
              `then` (how it is spelled as a step; None: never one), `said` (how errors name
              it as the step before; its name unless set)
    running   `video` (in a video lane under MJ_VIDEO_CAP), `factor` (of its mode's typical
              duration)
    """

    name: str
    request: type[SubmitRequest]
    args: Mapping[str, Any]
    doc: str
    fetch: Fetch = V1_FETCH
    action: Callable[[Mapping[str, Any]], str] | None = None
    outputs: Outputs = image_outputs
    inline: tuple[str, ...] = ()
    local: tuple[str, ...] = ()
    batch: tuple[str, ...] | None = None
    parent: Parent = Parent.NONE
    reads: Reader = as_given
    makes: str | None = "image"
    grid: Callable[[Mapping[str, Any]], bool] = never
    then: Then | None = None
    said: str = ""
    video: bool = False
    factor: float = 1.0

    @property
    def task(self) -> str:
        """The Celery task's name (`mj.<kind>`)."""
        return f"mj.{self.name}"

    @property
    def title(self) -> str:
        """The name of the HTTP API's model of this kind: its name in CamelCase (`Imagine`)."""
        return "".join(part.title() for part in self.name.split("_"))

    @property
    def said_as(self) -> str:
        """How the `then` grammar's errors name a job of this kind as the step before."""
        return self.said or self.name

    @property
    def submit_path(self) -> str:
        """Where a job of this kind is submitted."""
        return self.request.path

    def ttapi_action(self, params: Mapping[str, Any]) -> str:
        """The action TTAPI reports for a job of this kind with these parameters."""
        return self.action(params) if self.action is not None else self.name

    def check_inline(self, params: Mapping[str, Any], limit: int) -> None:
        """Refuse an inline image over `limit` bytes (decoded), naming the field and the limit.

        Checked before anything else (before the base64 is even decoded): an input that is too
        big must cost neither a job record, nor Redis memory, nor an HTTP call.
        """
        for name in self.inline:
            value = params.get(name)
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                if not isinstance(item, str) or item.startswith(("http://", "https://")):
                    continue  # a URL is not an inline image (its length is checked with the URL)
                size = _decoded_size(item)
                if size > limit:
                    where = f"{name}[{i}]" if isinstance(value, list) else name
                    raise InvalidRequest(
                        f"invalid request: {where}: the image is {size:,} bytes, over the limit "
                        f"of {limit:,} bytes per inline image (MJ_INLINE_IMAGE_MAX_BYTES)"
                    )

    def request_for(
        self, params: Mapping[str, Any], parent_job_id: str = "", hook_url: str | None = None
    ) -> SubmitRequest:
        """The validated TTAPI request of a job (raises InvalidRequest)."""
        fields = {k: v for k, v in params.items() if v is not None and k not in self.local}
        if self.parent is Parent.ALWAYS:
            fields["job_id"] = parent_job_id
        if hook_url:
            fields["hook_url"] = hook_url
        return validate(self.request, **fields)


def _decoded_size(text: str) -> int:
    """About how many bytes a data URI or raw base64 text decodes to (without decoding it)."""
    payload = text.partition(",")[2] if text.startswith("data:") else text
    return len(payload) * 3 // 4


__all__ = [
    "EDIT_FETCH",
    "V1_FETCH",
    "VIDEO_FETCH",
    "Fetch",
    "KindSpec",
    "Outputs",
    "Parent",
    "Reader",
    "Then",
    "always",
    "as_given",
    "image_outputs",
    "never",
]
