"""What a task asks for: validated parameters, the parent of a follow-up, and the job result.

Validation happens here, before any record or HTTP call, so bad input fails at once with a
message naming the field and the rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from worker.capacity.guard import FOLLOW_UP, FRESH
from worker.capacity.lanes import base_of
from worker.jobs.callers import Caller, caller_of
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.ttapi import errors
from worker.ttapi.kinds import SPECS, Parent, is_video_kind, outputs, spec_of
from worker.ttapi.requests import SubmitRequest, mode_of
from worker.ttapi.responses import JobInfo, JobStatus

#: What a job record keeps of its parent.
PARENT_FIELDS = ("job_id", "account", "components", "prompt", "mode")


@dataclass(frozen=True)
class JobSpec:
    """A validated job: its kind, TTAPI parameters, pinned account, parent (follow-ups) and
    caller (tenant, priority)."""

    kind: str
    params: dict[str, Any]
    account: str | None = None
    parent: dict[str, Any] = field(default_factory=dict)
    caller: Caller = field(default_factory=Caller)

    @property
    def urgency(self) -> int:
        """The guard's class: follow-ups wait ahead of fresh jobs so that started pipelines
        finish."""
        always = SPECS[self.kind].parent is Parent.ALWAYS
        return FOLLOW_UP if always or self.parent else FRESH


def request_for(
    kind: str, params: dict[str, Any], parent_job_id: str = "", hook_url: str | None = None
) -> SubmitRequest:
    """Build the validated TTAPI request of a job (raises InvalidRequest)."""
    return spec_of(kind).request_for(params, parent_job_id, hook_url)


def make_spec(
    rt: Runtime,
    kind: str,
    params: dict[str, Any],
    *,
    account: str | None = None,
    parent: Any = None,
    tenant: Any = None,
    priority: Any = None,
) -> JobSpec:
    """Validate a task's inputs into a JobSpec; follow-ups resolve and check their parent, and
    inherit its tenant and priority unless they name them."""
    kind_spec = spec_of(kind)
    kind_spec.check_inline(params, rt.settings.mj_inline_image_max_bytes)
    if account is not None:
        rt.pool.check(account)
    info: dict[str, Any] = {}
    follows = kind_spec.parent
    if follows is Parent.ALWAYS or (follows is Parent.MAY and parent is not None):
        info = resolve_parent(rt, parent)
        if account is not None and account != info["account"]:
            raise errors.InvalidRequest(
                f"account: job {info['job_id']} was made on {info['account']}, and a "
                "follow-up runs on its parent's account"
            )
        account = info["account"]
    # An edit in a chain takes the previous step's result as its image: its caller too.
    image = params.get("image")
    caller = caller_of(
        rt.settings, tenant, priority, info or (image if _is_result(image) else None)
    )
    params = kind_spec.reads(params, info)
    kind_spec.request_for(params, info.get("job_id", ""))  # validates before anything else
    kept = {k: info[k] for k in PARENT_FIELDS if k in info}
    return JobSpec(kind=kind, params=params, account=account, parent=kept, caller=caller)


def _is_result(value: Any) -> bool:
    return isinstance(value, dict) and bool(value.get("job_id"))


def resolve_parent(rt: Runtime, parent: Any) -> dict[str, Any]:
    """The parent's TTAPI job id, account label, components, prompt and mode; and, for video
    and edit follow-ups, its kind, `image_url`, `images` and `videos`."""
    if isinstance(parent, dict):
        job_id = str(parent.get("job_id") or "")
        if not job_id:
            raise errors.InvalidRequest("parent: a job result needs a 'job_id'")
        if parent.get("status", JobStatus.SUCCESS) != JobStatus.SUCCESS:
            raise errors.InvalidRequest(f"parent: job {job_id} did not succeed")
        account = str(parent.get("account") or "") or _find_account(rt, job_id)["account"]
        rt.pool.check(account)
        components = parent.get("components")
        if not isinstance(components, list):
            components = _find_account(rt, job_id)["components"]
        return {
            "job_id": job_id,
            "account": account,
            "components": list(components),
            "prompt": parent.get("prompt") or "",
            "mode": mode_of(parent),
            **{
                k: parent.get(k)
                for k in ("kind", "action", "image_url", "images", "videos", "tenant", "priority")
            },
        }
    if isinstance(parent, str) and parent.strip().startswith(("http://", "https://")):
        raise errors.InvalidRequest(
            "parent: a URL is not a job; give a start frame as image=..., a parent as the "
            "previous step's result or a TTAPI job id"
        )
    if isinstance(parent, str) and parent.strip():
        return _find_account(rt, parent.strip())
    raise errors.InvalidRequest("parent: give the previous step's result or a TTAPI job id")


def remember(rt: Runtime, result: dict[str, Any], client: Any = None) -> None:
    """Index a finished job by its TTAPI id, so follow-ups named by id find account and buttons
    (written through `client`, e.g. a pipeline the caller sends, else in one round trip)."""
    key = rt.keys.ttjob(result["job_id"])
    pipe = client if client is not None else rt.redis.pipeline(transaction=False)
    pipe.hset(
        key,
        mapping={
            "account": result["account"],
            "components": json.dumps(result.get("components") or []),
            "prompt": result.get("prompt") or "",
            "mode": mode_of(result),
            "kind": result.get("kind") or "",
            "image_url": result.get("image_url") or "",
            "images": json.dumps(result.get("images") or []),
            "videos": json.dumps(result.get("videos") or []),
            "tenant": result.get("tenant") or "",
            "priority": result.get("priority") or "",
        },
    )
    pipe.expire(key, rt.settings.mj_record_ttl_s)
    if client is None:
        pipe.execute()


def _find_account(rt: Runtime, job_id: str) -> dict[str, Any]:
    raw = rt.redis.hgetall(rt.keys.ttjob(job_id))
    if raw:
        return {
            "job_id": job_id,
            "account": raw["account"],
            "components": json.loads(raw.get("components") or "[]"),
            "prompt": raw.get("prompt", ""),
            "mode": raw.get("mode", "fast"),
            "kind": raw.get("kind", ""),
            "image_url": raw.get("image_url") or None,
            "images": json.loads(raw.get("images") or "[]"),
            "videos": json.loads(raw.get("videos") or "[]"),
            "tenant": raw.get("tenant") or None,
            "priority": raw.get("priority") or None,
        }
    for label in rt.pool.labels:  # a job made elsewhere: ask each account (fetch is free)
        try:
            info = rt.pool.client(label).fetch(job_id)
        except errors.NotFound:
            continue
        if info.status != JobStatus.SUCCESS:
            raise errors.InvalidRequest(f"parent: job {job_id} is {info.status}, not SUCCESS")
        kind = info.action if info.action and is_video_kind(info.action) else ""
        return {
            "job_id": job_id,
            "account": label,
            "components": info.components,
            "prompt": info.prompt or "",
            "mode": "fast",
            "kind": kind,
            **outputs(kind, info),
        }
    raise errors.InvalidRequest(f"parent: no configured account knows job {job_id}")


def iso(ts: float) -> str | None:
    """ISO-8601 UTC of an epoch time (None for 0)."""
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts else None


def job_result(rec: JobRecord, info: JobInfo, finished_at: float) -> dict[str, Any]:
    """The job result every `mj.*` task returns: its public fields, then a few extra keys
    (`videos`: a video job's clips, null for the other kinds)."""
    kind = spec_of(rec.kind)
    out = kind.outputs(info)
    return {
        "job_id": info.job_id or rec.ttapi_job_id,
        "action": info.action or kind.ttapi_action(rec.params),
        "status": JobStatus.SUCCESS.value,
        "prompt": info.prompt if info.prompt is not None else rec.params.get("prompt"),
        "image_url": out["image_url"],
        "discord_image": info.discord_image,
        "images": out["images"],
        "components": info.components,
        "seed": info.seed,
        "width": info.width,
        "height": info.height,
        "account": base_of(rec.account),  # the account, never a lane of it
        "parent_job_id": rec.parent.get("job_id") or None,
        "submitted_at": _iso_of(info.submit_time) or iso(rec.submitted_at_ts),
        "finished_at": _iso_of(info.finish_time) or iso(finished_at),
        "task_id": rec.job_id,
        "kind": rec.kind,
        "mode": mode_of(rec.params, rec.parent),
        "quota": info.quota,
        "videos": out["videos"],
        "tenant": rec.tenant,
        "priority": rec.priority,
    }


def _iso_of(when: datetime | None) -> str | None:
    """TTAPI's own time of a job (edits and videos give theirs) in our ISO-8601 UTC form."""
    return when.astimezone(UTC).isoformat() if when is not None else None
