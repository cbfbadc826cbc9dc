"""The HTTP API's jobs: make one, idempotently, and leave nothing half-made.

A job is the Celery canvas `pipeline()` builds (the first task, then each `then` step), with
its task ids chosen before anything is sent: the first step's id is the job's id, so Flower,
the operator page, `mjw jobs` and `mjw show ID` all know it. Its entry and its Idempotency-Key
are written together (`worker.api.entries.make`) before the canvas is published, and marked
published after. A publish that fails is a 503 that says what the caller may do: retry with
the same key (it carries this job on), or, without a key, try again (nothing was made) — or
know that it may still run when even withdrawing it failed. Once published, the answer is a
202 even if Redis then fails: a retry without a key would otherwise pay twice. Reading jobs
is `worker.api.reads`, cancelling `worker.api.cancel`.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from redis import RedisError

from worker.adapter.api_jobs import PENDING, BrokerUnavailable
from worker.api import entries, tenancy
from worker.api.core import Api, Busy
from worker.api.idempotency import job_id_for, request_digest
from worker.api.problems import ApiProblem, invalid
from worker.api.reads import job_of, parent_result, view
from worker.api.requests import JobBase
from worker.api.tokens import Token
from worker.api.views import Job, StepFacts
from worker.jobs.steps import parse_steps
from worker.ttapi.errors import InvalidRequest
from worker.ttapi.kinds import check_inline_sizes

log = logging.getLogger(__name__)


def step_names(req: JobBase) -> list[str]:
    """What each step does (imagine, upsample2, video, ...), as `mjw show` names them."""
    first = str(getattr(req, "action", None) or req.kind_name)
    names = [first]
    for step in parse_steps(req.then, req.kind_name if req.then else None):
        names.append(str(step.kwargs.get("action") or step.kind))
    return names


def create(
    api: Api, token: Token, req: JobBase, key: str | None, extra: dict[str, str] | None = None
) -> tuple[Job, bool]:
    """Make the job (or find the one `key` made); returns its view and whether it was found.
    `extra` fields go into the job's entry (the midjourney-proxy routes keep theirs there).

    Raises ApiProblem (422, 429, 503) for what the caller must change or wait for, Busy while
    `key` is in flight.
    """
    rt, tenant = api.rt, token.tenant
    fields = req.model_dump(exclude_none=True)
    tenancy.check(rt.settings, tenant, fields)
    kwargs = req.task_kwargs()
    _check_inline(req.kind_name, kwargs, rt.settings.mj_inline_image_max_bytes)
    parent_id = getattr(req, "parent", None)
    if parent_id:
        kwargs["parent"] = parent_result(api, tenant, parent_id, req)
    if key is None or not api.idem.known(tenant, key):  # a repeat is answered, not counted
        retry_after = tenancy.quota_retry_after(rt, tenant)
        if retry_after is not None:
            raise tenancy.too_many(retry_after, tenant)
    priority = tenancy.effective_priority(rt.settings, tenant, req.priority)
    kwargs.update(tenancy.task_options(tenant, priority, api.celery.accepts(req.kind_name)))
    job_id = job_id_for(tenant, key) if key is not None else str(uuid.uuid4())
    names = step_names(req)
    ids = entries.step_ids(job_id, len(names))
    now = rt.clock()
    doc = entries.document(token, req, ids, names, now, priority, extra or {})
    outcome = entries.make(api, doc, ids, key, request_digest(fields), now)
    if outcome == "mismatch":
        raise invalid("Idempotency-Key", "this key was used with another request (within 24 h)")
    if outcome == "busy":
        raise Busy()
    if outcome == "done":
        return view(api, token, job_id), True
    try:
        api.celery.publish(req.kind_name, kwargs, req.then, ids)
    except Exception as exc:
        withdrawn = entries.withdraw(api, tenant, ids, key)
        if not isinstance(exc, BrokerUnavailable | RedisError):
            raise
        raise _not_queued(key is not None, withdrawn) from exc
    try:
        entries.confirm(api, job_id, tenant, key)
        return view(api, token, job_id), outcome == "retake"
    except RedisError as exc:  # published: a 202 still (the key's lease lets a retry confirm)
        log.warning("api: job %s published, not confirmed: %s", job_id, type(exc).__name__)
        facts = [StepFacts(i, n, None, PENDING) for i, n in zip(ids, names, strict=True)]
        return job_of(job_id, doc, facts), outcome == "retake"


def _not_queued(keyed: bool, withdrawn: bool) -> ApiProblem:
    """The 503 for a publish that failed, saying what the caller may do."""
    if keyed:
        then = (
            "retry with the same Idempotency-Key: it carries this job on, which is made at "
            "most once"
        )
    elif withdrawn:
        then = "nothing was made: try again"
    else:
        then = (
            "it could not be withdrawn either and may still run; send an Idempotency-Key to "
            "retry safely"
        )
    return ApiProblem(
        503,
        "Service Unavailable",
        f"the job could not be queued (the broker does not answer); {then}",
        kind="unavailable",
        headers={"Retry-After": "2"},
    )


def _check_inline(kind: str, kwargs: dict[str, Any], limit: int) -> None:
    try:
        check_inline_sizes(kind, kwargs, limit)
    except InvalidRequest as exc:
        text = str(exc).removeprefix("invalid request: ")
        field, _, message = text.partition(": ")
        raise invalid(re.sub(r"\[(\d+)\]", r".\1", field), message) from None


__all__ = ["Api", "Busy", "create", "step_names"]
