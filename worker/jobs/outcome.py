"""What one run of a job's task comes to, in terms the task turns into Celery's.

`Park` ends the run without a result (someone re-publishes it later), `Done` returns the job
result, `Failed` raises, `Revoked` stores REVOKED.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worker.jobs.record import RecordState
from worker.jobs.records import JobRecord
from worker.ttapi import errors


@dataclass(frozen=True)
class Park:
    """The task ends now without a result; someone re-publishes it later."""


@dataclass(frozen=True)
class Done:
    """The job finished: the task returns this result (and its chain goes on)."""

    result: dict[str, Any]


@dataclass(frozen=True)
class Failed:
    """The job ended in failure: the task raises this exception."""

    error: errors.TTAPIError


@dataclass(frozen=True)
class Revoked:
    """The job was cancelled before any submit: the task ends REVOKED."""

    reason: str


Outcome = Park | Done | Failed | Revoked


def ended(rec: JobRecord) -> Outcome:
    """The outcome of an ended record, as its task reports it."""
    if rec.state == RecordState.SUCCESS:
        return Done(rec.result)
    if rec.state == RecordState.REVOKED:
        return Revoked(rec.error)
    return Failed(errors.JobFailed(rec.error))
