"""Reading the HTTP API's jobs: one job's view (404 for none, or another tenant's), many at
once (every step's record and task state in two round trips), and a parent's result for a
follow-up job.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from worker.api.core import Api
from worker.api.entries import entry_of
from worker.api.problems import ApiProblem, invalid
from worker.api.requests import JobBase
from worker.api.tokens import Token
from worker.api.views import Job, StepFacts, job_status, position_of, step_view

PEEK = ("state", "progress", "result", "error", "sig")


def view(api: Api, token: Token, job_id: str) -> Job:
    """The tenant's job `job_id` (404 for none, or another tenant's)."""
    doc = entry_of(api, token.tenant, job_id)
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
        job_of(job_id, doc, [StepFacts(i, n, records.get(i), states[i]) for i, n in steps[job_id]])
        for job_id, doc in docs
    ]


def job_of(job_id: str, doc: dict[str, str], facts: list[StepFacts]) -> Job:
    """The view of one job from its entry and what is known of each step."""
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


def parent_result(api: Api, tenant: str, parent_id: str, req: JobBase) -> dict[str, Any]:
    """The last step's result of the caller's succeeded job `parent_id` (422 otherwise)."""
    doc = entry_of(api, tenant, parent_id)
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


__all__ = ["build_views", "job_of", "parent_result", "view"]
