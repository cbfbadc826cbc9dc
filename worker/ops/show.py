"""One job in full, for `mjw show ID` and `/api/jobs/<id>`: its record, where it is in the
guard, the steps of its pipeline, its TTAPI id, account, timings, URLs and the error.

The steps come from what `mjw submit` stored for the pipeline (`keys.chain`), else from the
record's own task signature (this step, then the chain Celery will run after it).
"""

from __future__ import annotations

import json
from typing import Any

from worker.jobs.record import JobRecord
from worker.ops.jobs import row_of, with_links
from worker.ops.tenants import tenant_book
from worker.ops.view import OpsView
from worker.storage.links import fresh
from worker.text import text

TIMINGS = (
    "created_at",
    "waiting_since",
    "woken_at",
    "sent_at",
    "submitted_at_ts",
    "last_poll_at",
    "last_progress_at",
    "finished_at_ts",
    "expires_at",
    "hold_until",
)


def show(view: OpsView, job_id: str) -> dict[str, Any] | None:
    """Everything known about `job_id`, or None when it has no record (never, or expired).
    Its result's stored links are made anew: presigned ones work for a full TTL from now."""
    raw = {text(k): text(v) for k, v in view.redis.hgetall(view.keys.job(job_id)).items()}
    if not raw:
        return None
    now = view.now()
    rec = JobRecord.from_hash(job_id, raw)
    doc = row_of(rec, now)
    with_links(view, doc, now)
    doc.update(
        pinned=rec.pinned,
        params=rec.params,
        result=fresh(rec.result or None, view.settings, now),  # stored links re-signed
        parent_ttapi_job_id=str(rec.parent.get("job_id") or "") or None,
        previous_ttapi_job_id=rec.previous_job_id or None,
        submit_attempts=rec.submit_attempts,
        resubmits=rec.resubmits,
        timings={name: getattr(rec, name) for name in TIMINGS if getattr(rec, name)},
        guard=_guard_place(view, rec),
        steps=steps(view, job_id, rec),
    )
    return doc


def _guard_place(view: OpsView, rec: JobRecord) -> dict[str, Any] | None:
    """Whether the job holds a slot or waits (with its position) on its account's guard."""
    if not rec.account:
        return None
    state = view.guard.state(rec.account)
    if rec.job_id in state.holders:
        return {"holds_slot": True, "position": None}
    if rec.job_id in state.waiters:
        found = view.guard.places(rec.account, jobs=(rec.job_id,), book=tenant_book(view))
        place = found.get(rec.job_id)
        return {"holds_slot": False, "position": place}
    return None


def steps(view: OpsView, job_id: str, rec: JobRecord) -> list[dict[str, Any]]:
    """The pipeline's steps in order, each with its record's state ("" when it has none yet)."""
    stored = view.redis.get(view.keys.chain(job_id))
    if stored:
        found = [(str(i), str(n)) for i, n in json.loads(text(stored))]
    else:
        found = [(job_id, _name(rec.sig) or rec.kind)]
        chain = (rec.sig.get("options") or {}).get("chain") or []
        found += [
            (str((s.get("options") or {}).get("task_id") or ""), _name(s)) for s in chain[::-1]
        ]
    pipe = view.redis.pipeline(transaction=False)
    for step_id, _ in found:
        pipe.hget(view.keys.job(step_id), "state")
    states = pipe.execute()
    return [
        {
            "task_id": step_id,
            "name": name,
            "state": text(state) if state else "",
            "this": step_id == job_id,
        }
        for (step_id, name), state in zip(found, states, strict=True)
    ]


def _name(sig: dict[str, Any]) -> str:
    """What a step does: its action (upsample2, ...) or its task's short name (imagine)."""
    kwargs = sig.get("kwargs") or {}
    return str(kwargs.get("action") or str(sig.get("task") or "").removeprefix("mj."))


__all__ = ["show", "steps"]
