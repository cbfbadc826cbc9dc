"""A job's entry in Redis (`mj:api:job:<id>`: tenant, token, kind, steps, callback, metadata)
and the tenant's index of them (`mj:api:jobs:<tenant>`, scored by creation time).

`make` writes the entry, the index, every step's chain key (so `mjw show` and `mjw wait` find
the pipeline from any step), the callback's first look and the Idempotency-Key in one script,
before the job's canvas is published: there is never a key without its job's entry, nor a
published job without both. `confirm` marks it published (and the key done) afterwards;
`withdraw` undoes what a failed publish left. Another tenant's entry is never found.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from worker.api.core import Api
from worker.api.idempotency import LEASE_S, TTL_S
from worker.api.requests import JobBase
from worker.api.tokens import Token
from worker.jobs.record import RecordState
from worker.jobs.revoke import cancel as cancel_record
from worker.lua import script

_STEP_NAMESPACE = uuid.UUID("8a4f1c2e-7b3d-5e9a-b6c1-0d2e3f4a5b6c")
_MAKE = script("api/entries/make.lua")
CALLBACK_FIRST_LOOK_S = 1.0


def step_ids(job_id: str, count: int) -> list[str]:
    """The task ids of a job's steps: the job's id, then uuid5 of it and the step's number."""
    return [job_id] + [str(uuid.uuid5(_STEP_NAMESPACE, f"{job_id}/{i}")) for i in range(1, count)]


def document(
    token: Token,
    req: JobBase,
    ids: list[str],
    names: list[str],
    now: float,
    priority: str,
    extra: dict[str, str],
) -> dict[str, str]:
    """The entry's fields: `priority` is the one the job runs at (`tenancy.effective_priority`),
    `extra` the midjourney-proxy routes' own."""
    return {
        "tenant": token.tenant,
        "token": token.id,
        "kind": req.kind_name,
        "steps": json.dumps([[i, n] for i, n in zip(ids, names, strict=True)]),
        "created_at": f"{now:.6f}",
        "priority": priority,
        "callback_url": req.callback_url or "",
        "metadata": json.dumps(req.metadata) if req.metadata is not None else "",
        "published": "0",
        **extra,
    }


def make(
    api: Api, doc: dict[str, str], ids: list[str], key: str | None, digest: str, now: float
) -> str:
    """Write the job's entry and its key (see `make.lua`); the key's outcome: new, retake,
    done, busy or mismatch (without a key: always new)."""
    rt, job_id = api.rt, ids[0]
    ttl = rt.settings.mj_record_ttl_s
    tenant = doc["tenant"]
    keyed = key is not None
    wants_callback = bool(doc.get("callback_url") or doc.get("notify_hook"))
    keys = [
        api.idem.key_of(tenant, key) if key is not None else rt.keys.api_idem(tenant, "-"),
        rt.keys.api_job(job_id),
        rt.keys.api_jobs(tenant),
        rt.keys.api_callbacks,
        *(rt.keys.chain(i) for i in ids),
    ]
    args: list[str | float | int] = [
        "1" if keyed else "0",
        digest,
        job_id,
        uuid.uuid4().hex,
        f"{now:.6f}",
        LEASE_S,
        TTL_S,
        ttl,
        int(now * 1000),
        int((now - ttl) * 1000),
        f"{now + CALLBACK_FIRST_LOOK_S:.3f}" if wants_callback else "",
        doc["steps"],
        *(part for pair in doc.items() for part in pair),
    ]
    outcome, _ = rt.redis.register_script(_MAKE)(keys=keys, args=args)
    return text(outcome)


def confirm(api: Api, job_id: str, tenant: str, key: str | None) -> None:
    """The job's canvas is published: its entry says so, and its key finds it from now on."""
    pipe = api.rt.redis.pipeline(transaction=True)
    pipe.hset(api.rt.keys.api_job(job_id), "published", "1")
    if key is not None:
        pipe.hset(api.idem.key_of(tenant, key), "state", "done")
    pipe.execute()


def withdraw(api: Api, tenant: str, ids: list[str], key: str | None) -> bool:
    """Publishing failed; True when nothing is left that could run or mislead.

    With a key, the entry and the key stay and the key's lease is let go: the caller's retry
    with that key carries this very job on at once (the same task ids: a message that did
    reach the broker is not paid twice). Without one, the first step gets a REVOKED record (a
    message that did reach the broker ends without a submit) and the entry goes.
    """
    rt, job_id = api.rt, ids[0]
    try:
        if key is not None:
            api.idem.release(tenant, key)
            return True
        rec = rt.records.create(job_id, RecordState.NEW)
        _, effects = cancel_record(rt, rec, "the API could not confirm the job; it was not started")
        api.celery.carry(effects)  # a place it held (its message did get through) goes on
        pipe = rt.redis.pipeline(transaction=True)
        pipe.delete(rt.keys.api_job(job_id), *(rt.keys.chain(i) for i in ids))
        pipe.zrem(rt.keys.api_jobs(tenant), job_id)
        pipe.zrem(rt.keys.api_callbacks, job_id)
        pipe.execute()
        return True
    except Exception:  # Redis is gone too
        return False


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


__all__ = [
    "confirm",
    "document",
    "entry_of",
    "make",
    "read_entry",
    "step_ids",
    "text",
    "withdraw",
]
