"""The job kinds mj-worker speaks, one `KindSpec` each, and the lookups everything else uses.

A kind is described once, by its spec (`images`, `videos`, `edits`); the client, the job
layer, the CLI and the HTTP API ask the registry here (`spec_of`, or the helpers below) rather
than naming kinds. The engine may route video kinds to a lane of their own (`MJ_VIDEO_CAP`)
through `is_video_kind`; the client fetches every kind where its spec says.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from worker.ttapi.errors import InvalidRequest
from worker.ttapi.kinds import edits, images, videos
from worker.ttapi.kinds.spec import (
    EDIT_FETCH,
    V1_FETCH,
    VIDEO_FETCH,
    Fetch,
    KindSpec,
    Parent,
    Then,
    image_outputs,
)
from worker.ttapi.responses import JobInfo

#: Every kind's spec by name, in the order the task table lists them.
SPECS: dict[str, KindSpec] = {s.name: s for s in (*images.SPECS, *videos.SPECS, *edits.SPECS)}
KINDS: tuple[str, ...] = tuple(SPECS)
VIDEO_KINDS: tuple[str, ...] = tuple(k for k, s in SPECS.items() if s.video)
EDIT_KINDS: tuple[str, ...] = tuple(k for k, s in SPECS.items() if s.fetch is EDIT_FETCH)
IMAGE_KINDS: tuple[str, ...] = tuple(k for k in KINDS if k not in VIDEO_KINDS + EDIT_KINDS)

FETCH_PATH = V1_FETCH.path
VIDEO_FETCH_PATH = VIDEO_FETCH.path
EDIT_FETCH_PATH = EDIT_FETCH.path


def spec_of(kind: str) -> KindSpec:
    """The spec of `kind` (InvalidRequest naming the kind when there is none)."""
    spec = SPECS.get(kind)
    if spec is None:
        raise InvalidRequest(f"kind: unknown job kind {kind!r}")
    return spec


def is_video_kind(kind: str) -> bool:
    """True for the kinds that make videos (their spec says `video`): what MJ_VIDEO_CAP counts."""
    return kind in VIDEO_KINDS


def is_edit_kind(kind: str) -> bool:
    """True for image edits (`edit`, in either of its types)."""
    return kind in EDIT_KINDS


def fetch_of(kind: str) -> Fetch:
    """Where a job of `kind` is fetched (the v1 fetch for a kind it does not know)."""
    spec = SPECS.get(kind)
    return spec.fetch if spec is not None else V1_FETCH


def fetch_path(kind: str) -> str:
    """The path a job of `kind` is fetched at."""
    return fetch_of(kind).path


def ttapi_action(kind: str, params: Mapping[str, Any]) -> str:
    """The action TTAPI reports for a job (in fetch and its history): an action's button, an
    edit's type (`edit` or `retexture`), else the kind itself."""
    spec = SPECS.get(kind)
    return spec.ttapi_action(params) if spec is not None else kind


def outputs(kind: str, info: JobInfo) -> dict[str, Any]:
    """`image_url`, `images` and `videos` of a finished job, whichever list TTAPI used for its
    kind (an image job's lists for a kind it does not know)."""
    spec = SPECS.get(kind)
    return spec.outputs(info) if spec is not None else image_outputs(info)


def check_inline_sizes(kind: str, params: Mapping[str, Any], limit: int) -> None:
    """Refuse an inline image of a `kind` job over `limit` bytes (`KindSpec.check_inline`)."""
    spec = SPECS.get(kind)
    if spec is not None:
        spec.check_inline(params, limit)


def factor_of(kind: str) -> float:
    """How long a job of `kind` takes, as a factor of its mode's typical duration."""
    spec = SPECS.get(kind)
    return spec.factor if spec is not None else 1.0


__all__ = [
    "EDIT_FETCH_PATH",
    "EDIT_KINDS",
    "FETCH_PATH",
    "IMAGE_KINDS",
    "KINDS",
    "SPECS",
    "VIDEO_FETCH_PATH",
    "VIDEO_KINDS",
    "Fetch",
    "KindSpec",
    "Parent",
    "Then",
    "check_inline_sizes",
    "factor_of",
    "fetch_of",
    "fetch_path",
    "is_edit_kind",
    "is_video_kind",
    "outputs",
    "spec_of",
    "ttapi_action",
]
