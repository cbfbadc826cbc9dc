"""Parameter checks of the submit endpoints; a BadRequest's message names the parameter."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worker.devtools.simulator import rules
from worker.devtools.simulator.jobs import SUCCESS, Job
from worker.devtools.simulator.media import Media


class BadRequest(Exception):
    """The request is refused with HTTP 400 and this message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class JobSpec:
    """A validated submit: what to create, before admission (balance, cap) is checked."""

    action: str
    prompt: str
    mode: str | None
    parent: Job | None
    hook_url: str
    timeout: int | None
    dimensions: str | None = None
    media: Media | None = None  # video and edit jobs (validation_media.py)


FindParent = Callable[[str], "Job | None"]


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object in a request body (an empty body is an empty object)."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("Invalid JSON body") from None
    if not isinstance(body, dict):
        raise BadRequest("Invalid JSON body: expected an object")
    return body


def validate(endpoint: str, body: dict[str, Any], find: FindParent, now: float) -> JobSpec:
    """Check `body` for `endpoint` and return the job to create; raise BadRequest otherwise."""
    hook_url = optional_str(body, "hookUrl") or ""
    timeout = _timeout(body)
    mode = _mode(body)
    if endpoint == "imagine":
        prompt = required_str(body, "prompt")
        return JobSpec("imagine", prompt, mode, None, hook_url, timeout)
    if endpoint == "action":
        action = required_str(body, "action")
        if action not in rules.ACTIONS:
            known = ", ".join(rules.ACTIONS)
            raise BadRequest(f"action: unknown action {action!r} (known: {known})")
        parent = _parent(body, "jobId", find, now)
        if action not in parent.components:
            offered = ", ".join(parent.components) or "none"
            raise BadRequest(f"action: {action!r} is not in the parent's components ({offered})")
        return JobSpec(action, parent.prompt, mode, parent, hook_url, timeout)
    if endpoint == "seed":
        parent = _parent(body, "jobId", find, now)
        return JobSpec("seed", parent.prompt, mode, parent, hook_url, timeout)
    if endpoint == "blend":
        images = body.get("imgBase64Array")
        if (
            not isinstance(images, list)
            or not 2 <= len(images) <= 5
            or not all(_is_data_uri(i) for i in images)
        ):
            raise BadRequest("imgBase64Array: must be a list of 2 to 5 base64 data URIs")
        dimensions = body.get("dimensions", "SQUARE")
        if dimensions not in rules.DIMENSIONS:
            raise BadRequest("dimensions: must be one of PORTRAIT, SQUARE, LANDSCAPE")
        return JobSpec("blend", "", mode, None, hook_url, timeout, dimensions)
    if endpoint == "describe":
        if not _is_data_uri(body.get("base64")):
            raise BadRequest("base64: required, one base64 data URI (data:image/...;base64,...)")
        return JobSpec("describe", "", mode, None, hook_url, timeout)
    if endpoint == "inpaint":
        name = "jobId" if "jobId" in body else "Jobid"
        parent = _parent(body, name, find, now)
        mask = body.get("mask")
        if not isinstance(mask, str) or not mask.strip():
            raise BadRequest("mask: required, the base64 mask of the region to repaint")
        prompt = optional_str(body, "prompt") or parent.prompt
        return JobSpec("inpaint", prompt, mode, parent, hook_url, timeout)
    raise BadRequest(f"unknown endpoint {endpoint!r}")


def required_str(body: dict[str, Any], name: str) -> str:
    """The non-empty string `body[name]`; BadRequest names the field otherwise."""
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{name}: required, a non-empty string")
    return value


def optional_str(body: dict[str, Any], name: str) -> str | None:
    """`body[name]` if it is a string or absent (None); BadRequest otherwise."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{name}: must be a string")
    return value


def _timeout(body: dict[str, Any]) -> int | None:
    value = body.get("timeout")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 300 <= value <= 1200:
        raise BadRequest("timeout: must be an integer number of seconds between 300 and 1200")
    return value


def _mode(body: dict[str, Any]) -> str | None:
    name = "mode" if "mode" in body else "model"
    value = body.get(name)
    if value is None:
        return None
    if value not in rules.MODES:
        raise BadRequest(f"{name}: must be one of fast, relax, turbo")
    return str(value)


def _parent(body: dict[str, Any], name: str, find: FindParent, now: float) -> Job:
    job_id = required_str(body, name)
    parent = find(job_id)
    if parent is None:
        raise BadRequest(f"{name}: job {job_id} not found")
    status = parent.status(now)
    if status != SUCCESS:
        raise BadRequest(f"{name}: job {job_id} is {status}, not SUCCESS")
    return parent


def _is_data_uri(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("data:") and ";base64," in value
