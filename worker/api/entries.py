"""A job's entry in Redis (`mj:api:job:<id>`: tenant, token, kind, steps, callback, metadata)
and the tenant's index of them (`mj:api:jobs:<tenant>`, scored by creation time).

The entry is written before the job's canvas is published, and every step's id is chosen
then (the first is the job's own id), so `mjw show` and `mjw wait` find the pipeline from any
step. Another tenant's entry is never found (`entry_of`).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from worker.api.core import Api
from worker.api.requests import JobBase
from worker.api.tokens import Token
from worker.jobs.record import RecordState
from worker.jobs.revoke import cancel as cancel_record

_STEP_NAMESPACE = uuid.UUID("8a4f1c2e-7b3d-5e9a-b6c1-0d2e3f4a5b6c")


def step_ids(job_id: str, count: int) -> list[str]:
    """The task ids of a job's steps: the job's id, then uuid5 of it and the step's number."""
    return [job_id] + [str(uuid.uuid5(_STEP_NAMESPACE, f"{job_id}/{i}")) for i in range(1, count)]


def write(
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


def unmake(api: Api, tenant: str, job_id: str, ids: list[str], key: str | None) -> None:
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


def entry_of(api: Api, tenant: str, job_id: str) -> dict[str, str] | None:
    """The tenant's job entry `job_id`, or None (none, or another tenant's)."""
    doc = read_entry(api, job_id)
    return doc if doc and doc.get("tenant") == tenant else None


def read_entry(api: Api, job_id: str) -> dict[str, str] | None:
    """A job's entry whoever made it (for the callback sender), or None."""
    raw = api.rt.redis.hgetall(api.rt.keys.api_job(job_id))
    return {text(k): text(v) for k, v in raw.items()} or None


def text(value: Any) -> str:
    """A Redis reply as str (whether the client decodes or not)."""
    return value.decode() if isinstance(value, bytes) else str(value)


__all__ = ["entry_of", "read_entry", "step_ids", "text", "unmake", "write"]
