"""midjourney-proxy's shapes (novicezk's protocol and its later form, midjourney-proxy-plus as
trueai-org implements it): result codes, task status, and the buttons' `customId`s.

Read from novicezk/midjourney-proxy (`docs/api.md`, `ReturnCode`, `SubmitController`,
`TaskController`, `Task`, `ConvertUtils`) and trueai-org/midjourney-proxy
(`CustomComponentModel`, `SubmitActionDTO`). A button's id has the form clients parse,
`MJ::JOB::<what>::<index>::<hash>[::SOLO]`; our hash part is the task's id.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from worker.api.views import Job

# ReturnCode: 1 ok, 3 not found, 4 validation error, 9 failure, 21 existed, 22 in queue,
# 23 queue rejected (the tenant's quota is spent), 24 banned prompt (never: TTAPI tells later).
SUCCESS, NOT_FOUND, VALIDATION_ERROR, FAILURE, EXISTED, IN_QUEUE, QUEUE_REJECTED = (
    1,
    3,
    4,
    9,
    21,
    22,
    23,
)
#: A TTAPI button → (the proxy's action, customId pattern, label, emoji).
_BUTTONS: list[tuple[re.Pattern[str], str, str, str, str]] = [
    (re.compile(r"^upsample([1-4])$"), "UPSCALE", "MJ::JOB::upsample::{0}::{id}", "U{0}", ""),
    (re.compile(r"^variation([1-4])$"), "VARIATION", "MJ::JOB::variation::{0}::{id}", "V{0}", ""),
    (re.compile(r"^reroll$"), "REROLL", "MJ::JOB::reroll::0::{id}::SOLO", "", "🔄"),
    (
        re.compile(r"^(high|low)_variation$"),
        "VARIATION",
        "MJ::JOB::{0}_variation::1::{id}::SOLO",
        "Vary",
        "🪄",
    ),
    (
        re.compile(r"^upscale_(subtle|creative)$"),
        "UPSCALE",
        "MJ::JOB::upsample_v6_2x_{0}::1::{id}::SOLO",
        "Upscale ({0})",
        "",
    ),
    (
        re.compile(r"^upscale([24])$"),
        "UPSCALE",
        "MJ::JOB::upsample_v5_{0}x::1::{id}::SOLO",
        "Upscale ({0}x)",
        "",
    ),
    (re.compile(r"^zoom_out_2$"), "ZOOM", "MJ::Outpaint::50::1::{id}::SOLO", "Zoom Out 2x", "🔍"),
    (
        re.compile(r"^zoom_out_1_5$"),
        "ZOOM",
        "MJ::Outpaint::75::1::{id}::SOLO",
        "Zoom Out 1.5x",
        "🔍",
    ),
    (re.compile(r"^pan_(left|right|up|down)$"), "PAN", "MJ::JOB::pan_{0}::1::{id}::SOLO", "", ""),
]
#: A customId (without its hash) → the TTAPI button it presses.
_PRESS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^MJ::JOB::upsample::([1-4])::"), "upsample{0}"),
    (re.compile(r"^MJ::JOB::variation::([1-4])::"), "variation{0}"),
    (re.compile(r"^MJ::JOB::reroll::"), "reroll"),
    (re.compile(r"^MJ::JOB::(high|low)_variation::"), "{0}_variation"),
    (re.compile(r"^MJ::JOB::upsample_v[\w.]*?_2x_(subtle|creative)::"), "upscale_{0}"),
    (re.compile(r"^MJ::JOB::upsample_v5_([24])x::"), "upscale{0}"),
    (re.compile(r"^MJ::Outpaint::50::"), "zoom_out_2"),
    (re.compile(r"^MJ::Outpaint::75::"), "zoom_out_1_5"),
    (re.compile(r"^MJ::JOB::pan_(left|right|up|down)::"), "pan_{0}"),
]
FIRST_ACTION = {"imagine": "IMAGINE", "blend": "BLEND", "describe": "DESCRIBE"}


def buttons(components: list[str], task_id: str) -> list[dict[str, Any]]:
    """The later form's `buttons` of a finished task, from TTAPI's buttons."""
    out = []
    for name in components:
        for pattern, _, custom, label, emoji in _BUTTONS:
            match = pattern.match(name)
            if match:
                groups = match.groups()
                out.append(
                    {
                        "customId": custom.format(*groups, id=task_id),
                        "emoji": emoji,
                        "label": label.format(*groups),
                        "style": 2,
                        "type": 2,
                    }
                )
                break
    return out


def pressed(custom_id: str) -> str | None:
    """The TTAPI button a customId presses, or None (modal-only buttons: not supported)."""
    for pattern, action in _PRESS:
        match = pattern.match(custom_id)
        if match:
            return action.format(*match.groups())
    return None


def action_of(ttapi_action: str) -> str:
    """The proxy's `action` for a TTAPI button or first kind."""
    if ttapi_action in FIRST_ACTION:
        return FIRST_ACTION[ttapi_action]
    for pattern, action, *_ in _BUTTONS:
        if pattern.match(ttapi_action):
            return action
    return ttapi_action.upper()


def change_action(action: str, index: int | None) -> str | None:
    """`/mj/submit/change`'s UPSCALE|VARIATION|REROLL (+ index 1–4) as a TTAPI button."""
    if action == "REROLL":
        return "reroll"
    if action in ("UPSCALE", "VARIATION") and index in (1, 2, 3, 4):
        return f"{'upsample' if action == 'UPSCALE' else 'variation'}{index}"
    return None


def simple_change(content: str) -> tuple[str, str] | None:
    """`"<task id> U2"` (U1–U4, V1–V4, R) as (task id, TTAPI button), as ConvertUtils reads it."""
    parts = content.split()
    if len(parts) != 2:
        return None
    task_id, what = parts[0], parts[1].lower()
    if what == "r":
        return task_id, "reroll"
    if len(what) == 2 and what[0] in "uv" and what[1] in "1234":
        return task_id, f"{'upsample' if what[0] == 'u' else 'variation'}{what[1]}"
    return None


def _ms(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1000)
    except ValueError:
        return None


def task_of(job: Job, mj: dict[str, Any]) -> dict[str, Any]:
    """A job as the protocol's task (with the later form's `buttons`)."""
    result = job.result or {}
    first = job.steps[0] if job.steps else None
    if job.status == "waiting":
        status, progress = "NOT_START", "0%"
    elif job.status == "submitted":
        status = "IN_PROGRESS" if job.progress > 0 else "SUBMITTED"
        progress = f"{job.progress}%"
    elif job.status == "succeeded":
        status, progress = "SUCCESS", "100%"
    else:
        status, progress = "FAILURE", ""
    started = (first.result or {}).get("submitted_at") if first else None
    prompt = mj.get("prompt") or result.get("prompt")
    return {
        "id": job.id,
        "action": mj.get("action") or action_of(job.kind),
        "status": status,
        "prompt": prompt,
        "promptEn": prompt,
        "description": mj.get("description") or "",
        "state": mj.get("state"),
        "submitTime": _ms(job.created_at),
        "startTime": _ms(started),
        "finishTime": _ms(result.get("finished_at")) if job.status in ("succeeded",) else None,
        "progress": progress,
        "imageUrl": result.get("image_url"),
        "failReason": job.error if status == "FAILURE" else None,
        "properties": {"finalPrompt": result.get("prompt")} if result else {},
        "buttons": buttons(list(result.get("components") or []), job.id),
    }


__all__ = ["action_of", "buttons", "change_action", "pressed", "simple_change", "task_of"]
