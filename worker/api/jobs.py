"""The HTTP API's jobs: make one, idempotently.

A job is the Celery canvas `pipeline()` builds (the first task, then each `then` step), with
its task ids chosen before anything is sent: the first step's id is the job's id, so Flower,
the operator page, `mjw jobs` and `mjw show ID` all know it. Its entry (`worker.api.entries`)
is written before the canvas is published. Reading jobs is `worker.api.reads`, cancelling
`worker.api.cancel`.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from worker.adapter.steps import parse_steps
from worker.api import entries, tenancy
from worker.api.core import Api, Busy
from worker.api.idempotency import request_digest
from worker.api.problems import invalid
from worker.api.reads import parent_result, view
from worker.api.requests import FOLLOWS, JobBase
from worker.api.tokens import Token
from worker.api.views import Job
from worker.ttapi.errors import InvalidRequest
from worker.ttapi.requests import check_inline_sizes


def step_names(req: JobBase) -> list[str]:
    """What each step does (imagine, upsample2, video, ...), as `mjw show` names them."""
    first = str(getattr(req, "action", None) or req.kind_name)
    names = [first]
    for step in parse_steps(req.then, FOLLOWS[req.kind_name] if req.then else None):
        names.append(str(step.kwargs.get("action") or step.kind))
    return names


def create(
    api: Api, token: Token, req: JobBase, key: str | None, extra: dict[str, str] | None = None
) -> tuple[Job, bool]:
    """Make the job (or find the one `key` made); returns its view and whether it was found.
    `extra` fields go into the job's entry (the midjourney-proxy routes keep theirs there).

    Raises ApiProblem (422, 429) for what the caller must change, Busy while `key` is in flight.
    """
    rt, tenant = api.rt, token.tenant
    fields = req.model_dump(exclude_none=True)
    tenancy.check(rt.settings, tenant, fields)
    kwargs = req.task_kwargs()
    _check_inline(req.kind_name, kwargs, rt.settings.mj_inline_image_max_bytes)
    parent_id = getattr(req, "parent", None)
    if parent_id:
        kwargs["parent"] = parent_result(api, tenant, parent_id, req)
    if key is None:
        job_id = str(uuid.uuid4())
    else:
        begun = api.idem.begin(tenant, key, request_digest(fields), rt.clock())
        if begun.outcome == "mismatch":
            raise invalid("Idempotency-Key", "this key was used with another request (within 24 h)")
        if begun.outcome == "busy":
            raise Busy()
        if begun.outcome == "done":
            return view(api, token, begun.job_id), True
        job_id = begun.job_id
    retry_after = tenancy.quota_retry_after(rt, tenant)
    if retry_after is not None:
        if key is not None:
            api.idem.forget(tenant, key)
        raise tenancy.too_many(retry_after, tenant)
    kwargs.update(tenancy.task_options(tenant, req.priority, api.celery.accepts(req.kind_name)))
    names = step_names(req)
    ids = entries.step_ids(job_id, len(names))
    entries.write(api, token, req, job_id, ids, names, extra or {})
    try:
        api.celery.publish(req.kind_name, kwargs, req.then, ids)
    except Exception:
        entries.unmake(api, tenant, job_id, ids, key)
        raise
    pipe = rt.redis.pipeline(transaction=False)
    pipe.hset(rt.keys.api_job(job_id), "published", "1")
    if req.callback_url or (extra or {}).get("notify_hook"):
        pipe.zadd(rt.keys.api_callbacks, {job_id: rt.clock() + 1.0})
    pipe.execute()
    if key is not None:
        api.idem.done(tenant, key)
    return view(api, token, job_id), key is not None and begun.outcome == "retake"


def _check_inline(kind: str, kwargs: dict[str, Any], limit: int) -> None:
    try:
        check_inline_sizes(kind, kwargs, limit)
    except InvalidRequest as exc:
        text = str(exc).removeprefix("invalid request: ")
        field, _, message = text.partition(": ")
        raise invalid(re.sub(r"\[(\d+)\]", r".\1", field), message) from None


__all__ = ["Api", "Busy", "create", "step_names"]
