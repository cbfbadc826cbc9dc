"""The task states a caller sees while a job is under way (besides Celery's own).

A caller holding only an `AsyncResult` reads them from the result backend: WAITING while the
account is full, SUBMITTED once TTAPI has the job (its progress updated as it rises), then
Celery's SUCCESS / FAILURE / REVOKED. Metas are plain JSON, times ISO-8601 UTC.
"""

from __future__ import annotations

from typing import Any

from worker.capacity.lanes import base_of
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.jobs.spec import iso

WAITING_STATE, SUBMITTED_STATE = "WAITING", "SUBMITTED"


def show_waiting(rt: Runtime, rec: JobRecord, label: str, position: int) -> None:
    """WAITING: `account`, `position` (1 = next), `waiting_since`."""
    meta: dict[str, Any] = {
        "account": base_of(label),
        "position": position,
        "waiting_since": iso(rec.waiting_since or rec.created_at),
    }
    rt.dispatcher.publish_state(rec.job_id, WAITING_STATE, meta)


def show_submitted(rt: Runtime, rec: JobRecord, *, first: bool = False) -> None:
    """SUBMITTED: `account`, `ttapi_job_id`, `progress` (0-100), `submitted_at`. The `first`
    showing is a task event too (Flower shows the state); later ones only update progress."""
    meta: dict[str, Any] = {
        "account": base_of(rec.account),
        "ttapi_job_id": rec.ttapi_job_id,
        "progress": int(rec.progress),
        "submitted_at": iso(rec.submitted_at_ts),
    }
    rt.dispatcher.publish_state(rec.job_id, SUBMITTED_STATE, meta, event=first)
