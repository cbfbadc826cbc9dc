"""The task states a caller sees (`TaskState`), and the showing of the two a job adds to Celery's
(`Show` effects: the step that moved the job returns them, the adapter publishes them).

A caller holding only an `AsyncResult` reads them from the result backend: WAITING while the
account is full, SUBMITTED once TTAPI has the job (its progress updated as it rises), then
Celery's SUCCESS / FAILURE / REVOKED. Metas are plain JSON, times ISO-8601 UTC.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from worker.capacity.lanes import base_of
from worker.jobs.effects import ProgressNote, Show
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.jobs.spec import iso


class TaskState(StrEnum):
    """A state Celery shows the caller (`AsyncResult.state`), as the contract names them; not the
    record's own (`worker.jobs.record.RecordState`): a record FAILED shows as FAILURE."""

    PENDING = "PENDING"  # Celery's: not picked up yet
    WAITING = "WAITING"  # parked: the account is full
    SUBMITTED = "SUBMITTED"  # TTAPI has the job
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    REVOKED = "REVOKED"


# The task has ended: Celery's READY_STATES.
READY = frozenset({TaskState.SUCCESS, TaskState.FAILURE, TaskState.REVOKED})


def show_waiting(
    rt: Runtime, rec: JobRecord, label: str, position: int, *, capped: bool = False
) -> Show:
    """WAITING: `account`, `position` (the estimated place in the order served, 1 = next),
    `waiting_since`; with `capped`, `reason`: its tenant is at its max_in_progress."""
    meta: dict[str, Any] = {
        "account": base_of(label),
        "position": position,
        "waiting_since": iso(rec.waiting_since or rec.created_at),
        "tenant": rec.tenant,
        "priority": rec.priority,
    }
    if capped:
        bucket = rt.guard.book.bucket(rec.tenant)
        most = rt.guard.book.settings(bucket).max_in_progress
        meta["reason"] = f"tenant {bucket} is at its max_in_progress ({most})"
    return Show(rec.job_id, TaskState.WAITING, meta)


def show_submitted(
    rec: JobRecord, *, first: bool = False, note: ProgressNote | None = None
) -> Show:
    """SUBMITTED: `account`, `ttapi_job_id`, `progress` (0-100), `submitted_at`. The `first`
    showing is a task event too (Flower shows the state); later ones only update progress."""
    meta: dict[str, Any] = {
        "account": base_of(rec.account),
        "ttapi_job_id": rec.ttapi_job_id,
        "progress": int(rec.progress),
        "submitted_at": iso(rec.submitted_at_ts),
        "tenant": rec.tenant,
        "priority": rec.priority,
    }
    return Show(rec.job_id, TaskState.SUBMITTED, meta, event=first, note=note)
