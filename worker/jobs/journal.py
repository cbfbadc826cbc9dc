"""One INFO line per job transition (parked, submitted, ended), and the index of recent ends.

Each line carries `job_id` (the job's task id), `task_id` and `account` as fields of its own,
so JSON logs (`MJ_LOG_FORMAT=json`) can be filtered by job; an ending also goes into the capped
index `mjw jobs --recent/--failed` and the operator page read (`worker.jobs.recent`).
"""

from __future__ import annotations

import logging
from typing import Any

from worker.capacity import metrics
from worker.jobs.recent import note_ended
from worker.jobs.record import JobRecord, RecordState
from worker.jobs.runtime import Runtime

log = logging.getLogger("worker.jobs")


def _fields(rec: JobRecord, account: str, state: str) -> dict[str, Any]:
    return {"job_id": rec.job_id, "task_id": rec.job_id, "account": account, "state": state}


def parked(rec: JobRecord, account: str, position: int) -> None:
    """The job waits for a slot on `account` (its place in line)."""
    log.info(
        "job %s parked on %s (place %s)",
        rec.job_id,
        account,
        position,
        extra=_fields(rec, account, RecordState.WAITING),
    )


def submitted(rec: JobRecord, account: str, ttapi_job_id: str) -> None:
    """TTAPI took the job on `account`."""
    log.info(
        "job %s submitted on %s as TTAPI job %s",
        rec.job_id,
        account,
        ttapi_job_id,
        extra=_fields(rec, account, RecordState.SUBMITTED),
    )


def ended(rt: Runtime, rec: JobRecord, state: str, now: float, client: Any = None) -> None:
    """The job ended in `state` (SUCCESS, FAILED, REVOKED): counted, indexed (through `client`,
    a pipeline the caller sends, else in one round trip of its own) and logged with its duration
    since its submit."""
    pipe = client if client is not None else rt.redis.pipeline(transaction=False)
    metrics.count_outcome(pipe, state, keys=rt.keys)
    metrics.count_tenant_outcome(pipe, rt.guard.book.bucket(rec.tenant), state, keys=rt.keys)
    note_ended(pipe, rt.keys, rec.job_id, state, now)
    if client is None:
        pipe.execute()
    took = f" after {now - rec.submitted_at_ts:.1f} s" if rec.submitted_at_ts else ""
    log.info(
        "job %s ended %s on %s%s",
        rec.job_id,
        state,
        rec.account or "-",
        took,
        extra=_fields(rec, rec.account, state),
    )


__all__ = ["ended", "parked", "submitted"]
