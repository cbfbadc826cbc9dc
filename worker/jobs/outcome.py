"""What one run of a job's task comes to: `Park`, `Done`, `Failed` or `Revoked`, members of the
effects family (`worker.jobs.effects`) that the task turns into Celery's terms.

`Park` ends the run without a result (someone re-publishes it later), `Done` returns the job
result, `Failed` raises, `Revoked` stores REVOKED.
"""

from __future__ import annotations

from worker.jobs.effects import Done, Failed, Outcome, Park, Revoked
from worker.jobs.record import RecordState
from worker.jobs.records import JobRecord
from worker.ttapi import errors


def ended(rec: JobRecord) -> Outcome:
    """The outcome of an ended record, as its task reports it."""
    if rec.state == RecordState.SUCCESS:
        return Done(rec.result)
    if rec.state == RecordState.REVOKED:
        return Revoked(rec.error)
    return Failed(errors.JobFailed(rec.error))


__all__ = ["Done", "Failed", "Outcome", "Park", "Revoked", "ended"]
