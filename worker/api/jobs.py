"""The HTTP API's jobs: make one (idempotently), read it, list a tenant's, cancel one.

A job is the Celery canvas `pipeline()` builds (the first task, then each `then` step), with
its task ids chosen before anything is sent: the first step's id is the job's id, so Flower,
the operator page, `mjw jobs` and `mjw show ID` all know it. Its entry in Redis
(`mj:api:job:<id>`: tenant, steps, callback, metadata) is written before the canvas is
published, and the tenant's index lists it; another tenant's job is never found (404).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from worker.adapter.api_jobs import StepState
from worker.adapter.steps import parse_steps
from worker.api import tenancy
from worker.api.idempotency import Idempotency, request_digest
from worker.api.problems import ApiProblem, invalid
from worker.api.requests import FOLLOWS, JobBase
from worker.api.tokens import Token
from worker.api.views import ENDED, Job, StepFacts, job_status, position_of, step_view
from worker.jobs.record import UNSENT, RecordState
from worker.jobs.revoke import cancel as cancel_record
from worker.jobs.runtime import Runtime
from worker.ttapi.errors import InvalidRequest
from worker.ttapi.requests import check_inline_sizes

PEEK = ("state", "progress", "result", "error", "sig")
PUBLISH_LEASE_S = 10.0
_STEP_NAMESPACE = uuid.UUID("8a4f1c2e-7b3d-5e9a-b6c1-0d2e3f4a5b6c")


class CeleryPort(Protocol):
    """How jobs reach Celery (`worker.adapter.api_jobs.CeleryJobs`; a fake in unit tests)."""

    def accepts(self, kind: str) -> set[str]: ...
    def publish(self, first: str, kwargs: dict[str, Any], then: Any, ids: Any) -> None: ...
    def states(self, ids: Any) -> list[StepState]: ...
    def revoke(self, ids: Any) -> None: ...


class Busy(Exception):
    """The request's Idempotency-Key is in flight in another request."""


@dataclass
class Api:
    """Everything the API's handlers use, built once per process at the edge."""

    rt: Runtime
    celery: CeleryPort
    idem: Idempotency

    @classmethod
    def build(cls, rt: Runtime, celery: CeleryPort) -> Api:
        """Wire the API over a Runtime and a way into Celery."""
        return cls(rt, celery, Idempotency(rt.redis, rt.keys))


def step_ids(job_id: str, count: int) -> list[str]:
    """The task ids of a job's steps: the job's id, then uuid5 of it and the step's number."""
    return [job_id] + [str(uuid.uuid5(_STEP_NAMESPACE, f"{job_id}/{i}")) for i in range(1, count)]


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
        kwargs["parent"] = _parent_result(api, tenant, parent_id, req)
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
    ids = step_ids(job_id, len(names))
    _write(api, token, req, job_id, ids, names, extra or {})
    try:
        api.celery.publish(req.kind_name, kwargs, req.then, ids)
    except Exception:
        _unmake(api, tenant, job_id, ids, key)
        raise
    pipe = rt.redis.pipeline(transaction=False)
    pipe.hset(rt.keys.api_job(job_id), "published", "1")
    if req.callback_url or (extra or {}).get("notify_hook"):
        pipe.zadd(rt.keys.api_callbacks, {job_id: rt.clock() + 1.0})
    pipe.execute()
    if key is not None:
        api.idem.done(tenant, key)
    return view(api, token, job_id), key is not None and begun.outcome == "retake"


def _write(
    api: Api,
    token: Token,
    req: JobBase,
    job_id: str,
    ids: list[str],
    names: list[str],
    extra: dict[str, str],
) -> None:
    """The job's entry and the tenant's index, before anything is published (kept if there)."""
    rt = api.rt
    key = rt.keys.api_job(job_id)
    if rt.redis.exists(key):
        return  # a retaken request: the first one wrote it
    now = rt.clock()
    steps = [[i, n] for i, n in zip(ids, names, strict=True)]
    doc: dict[Any, Any] = {
        "tenant": token.tenant,
        "token": token.id,
        "kind": req.kind_name,
        "steps": json.dumps(steps),
        "created_at": f"{now:.6f}",
        "priority": req.priority,
        "callback_url": req.callback_url or "",
        "metadata": json.dumps(req.metadata) if req.metadata is not None else "",
        "published": "0",
        **extra,
    }
    ttl = rt.settings.mj_record_ttl_s
    pipe = rt.redis.pipeline(transaction=True)
    pipe.hset(key, mapping=doc)
    pipe.expire(key, ttl)
    index = rt.keys.api_jobs(token.tenant)
    pipe.zadd(index, {job_id: int(now * 1000)})
    pipe.zremrangebyscore(index, 0, int((now - ttl) * 1000))
    pipe.expire(index, ttl)
    chain = json.dumps(steps)
    for step_id in ids:  # `mjw show` and `mjw wait` find the pipeline from any step
        pipe.set(rt.keys.chain(step_id), chain, ex=ttl)
    pipe.execute()


def _unmake(api: Api, tenant: str, job_id: str, ids: list[str], key: str | None) -> None:
    """Publishing failed: leave nothing half-made. The first step gets a REVOKED record (a
    message that did reach the broker ends without a submit), the entry goes, the key frees."""
    rt = api.rt
    try:
        rec = rt.records.create(ids[0], RecordState.NEW)
        cancel_record(rt, rec, "the API could not confirm the job; it was not started")
        pipe = rt.redis.pipeline(transaction=True)
        pipe.delete(rt.keys.api_job(job_id))
        pipe.zrem(rt.keys.api_jobs(tenant), job_id)
        pipe.execute()
        if key is not None:
            api.idem.forget(tenant, key)
    except Exception:  # Redis is gone too: the key's lease lets a retry carry the job on
        pass


def _check_inline(kind: str, kwargs: dict[str, Any], limit: int) -> None:
    try:
        check_inline_sizes(kind, kwargs, limit)
    except InvalidRequest as exc:
        text = str(exc).removeprefix("invalid request: ")
        field, _, message = text.partition(": ")
        raise invalid(re.sub(r"\[(\d+)\]", r".\1", field), message) from None


def _parent_result(api: Api, tenant: str, parent_id: str, req: JobBase) -> dict[str, Any]:
    """The last step's result of the caller's succeeded job `parent_id` (422 otherwise)."""
    doc = _doc(api, tenant, parent_id)
    if doc is None:
        raise invalid("parent", f"no job {parent_id} of yours")
    job = build_views(api, [(parent_id, doc)])[0]
    if job.status != "succeeded" or job.result is None:
        raise invalid("parent", f"job {parent_id} is {job.status}, not succeeded")
    action = getattr(req, "action", None)
    components = job.result.get("components") or []
    if action is not None and action not in components:
        offered = ", ".join(components) or "none"
        raise invalid("action", f"{action!r} is not a button of job {parent_id} ({offered})")
    return job.result


def _doc(api: Api, tenant: str, job_id: str) -> dict[str, str] | None:
    doc = _doc_any(api, job_id)
    return doc if doc and doc.get("tenant") == tenant else None


def _doc_any(api: Api, job_id: str) -> dict[str, str] | None:
    """A job's entry whoever made it (for the callback sender), or None."""
    raw = api.rt.redis.hgetall(api.rt.keys.api_job(job_id))
    return {_s(k): _s(v) for k, v in raw.items()} or None


def view(api: Api, token: Token, job_id: str) -> Job:
    """The tenant's job `job_id` (404 for none, or another tenant's)."""
    doc = _doc(api, token.tenant, job_id)
    if doc is None:
        raise ApiProblem(404, "Not Found", f"no job {job_id}")
    return build_views(api, [(job_id, doc)])[0]


def build_views(api: Api, docs: list[tuple[str, dict[str, str]]]) -> list[Job]:
    """Views of many jobs: every step's record and task state in two round trips."""
    steps = {
        job_id: [(str(i), str(n)) for i, n in json.loads(doc["steps"])] for job_id, doc in docs
    }
    all_ids = [i for pairs in steps.values() for i, _ in pairs]
    records = api.rt.records.peek(all_ids, PEEK)
    states = dict(zip(all_ids, api.celery.states(all_ids), strict=True))
    return [
        _job(job_id, doc, [StepFacts(i, n, records.get(i), states[i]) for i, n in steps[job_id]])
        for job_id, doc in docs
    ]


def _job(job_id: str, doc: dict[str, str], facts: list[StepFacts]) -> Job:
    steps = [step_view(f) for f in facts]
    status, at = job_status(steps)
    current = steps[at]
    return Job(
        id=job_id,
        kind=doc.get("kind", ""),
        status=status,
        position=position_of(facts[at]) if status == "waiting" else None,
        progress=100 if status == "succeeded" else current.progress,
        steps=steps,
        result=steps[-1].result if status == "succeeded" else None,
        error=current.error if status in ("failed", "canceled") else None,
        priority=doc.get("priority") or "normal",
        created_at=datetime.fromtimestamp(float(doc.get("created_at") or 0), UTC).isoformat(),
        metadata=json.loads(doc["metadata"]) if doc.get("metadata") else None,
        callback_url=doc.get("callback_url") or None,
        callbacks=json.loads(doc["callbacks"]) if doc.get("callbacks") else [],
    )


def cancel(api: Api, token: Token, job_id: str) -> Job:
    """Cancel a job TTAPI does not have yet (it never reaches TTAPI); 409 for one it has, or
    one that has ended."""
    rt = api.rt
    job = view(api, token, job_id)
    if job.status in ENDED:
        raise ApiProblem(409, "Conflict", f"job {job_id} has already ended ({job.status})")
    current = next(s for s in job.steps if s.status != "succeeded")
    if job.status == "submitted":
        raise _submitted(job_id)
    rec = rt.records.create(current.id, RecordState.NEW)
    if rec.state in UNSENT and cancel_record(rt, rec, "canceled through the API"):
        if rec.sig:  # its task is parked: re-published, it stores REVOKED and the chain stops
            rt.dispatcher.resume(current.id, sig=rec.sig)
        api.celery.revoke([s.id for s in job.steps if s.status != "succeeded"])
        return view(api, token, job_id)
    fresh = rt.records.load(current.id)
    if fresh is not None and fresh.state not in UNSENT and fresh.state != RecordState.REVOKED:
        raise (
            _submitted(job_id)
            if fresh.state not in ("SUCCESS", "FAILED")
            else ApiProblem(
                409, "Conflict", f"job {job_id}'s step {current.name} has already ended"
            )
        )
    return view(api, token, job_id)


def _submitted(job_id: str) -> ApiProblem:
    return ApiProblem(
        409,
        "Conflict",
        f"job {job_id} is submitted to TTAPI, which cannot recall it: it runs to its end "
        "(and is paid for)",
        kind="cannot-recall",
    )


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


__all__ = ["Api", "Busy", "build_views", "cancel", "create", "step_ids", "view"]
