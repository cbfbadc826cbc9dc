"""Revoke and `expires`: a job not yet submitted is cancelled; one TTAPI has runs to its end.

Nothing can stop a job at TTAPI, so a revoke of a submitted job only drops its next message;
its slot is freed when TTAPI finishes it, as for any job.
"""

from __future__ import annotations

import logging

from worker.jobs import journal
from worker.jobs.delivery import delivered
from worker.jobs.effects import Effects
from worker.jobs.record import TERMINAL, UNSENT, RecordState
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.jobs.settle import hand_on

log = logging.getLogger(__name__)
REVOKED = "revoked"  # the reason stored with a REVOKED outcome of revoke(), as Celery's own


def cancel(rt: Runtime, rec: JobRecord, reason: str) -> tuple[bool, Effects]:
    """Revoke a job not yet submitted: no submit ever, its place or slot goes to the next.

    The move notes the REVOKED outcome as owed to its caller in the same breath (as every
    ending does): no kill can leave an ended job nobody reports.
    """
    now = rt.clock()
    if not rt.records.move(
        rec.job_id, UNSENT, RecordState.REVOKED, error=reason, finished_at_ts=now
    ):
        return False, []
    log.warning("job %s revoked: %s", rec.job_id, reason)
    journal.ended(rt, rec, RecordState.REVOKED, now)
    if not rec.account:
        return True, []
    return True, hand_on(rt, rec.account, rt.guard.release(rec.account, rec.job_id))


def cancel_parked(rt: Runtime, job_ids: list[str]) -> tuple[list[str], Effects]:
    """Cancel those of `job_ids` not yet submitted (a `revoke()` just arrived); returns them.

    Submitted jobs run to their end, as after any revoke; the revoke is noted on their record
    (`revoke_asked_at`), so that their report says REVOKED wherever it runs: a worker drops
    the report's message by its revoked ids, but a report in the engine's process has none.
    """
    cancelled, fx = [], []
    for job_id in job_ids:
        rec = rt.records.load(job_id)
        if rec is None:
            continue
        if rec.state not in UNSENT:
            if not rec.revoke_asked_at:
                rt.records.update(job_id, revoke_asked_at=rt.clock())
            continue
        done, more = cancel(rt, rec, REVOKED)
        if done:
            cancelled.append(job_id)
            fx += more
    return cancelled, fx


def on_revoked(
    rt: Runtime, job_id: str, *, expired: bool, outcome_key: str | bytes | None = None
) -> tuple[bool, Effects]:
    """Celery dropped a message of this job (and stored REVOKED at `outcome_key`, which the
    delivery note checks); True if the job must go on.

    A job not yet submitted is cancelled (its place goes to the next). One TTAPI has is never
    stopped (nothing can stop TTAPI): after `revoke()` it runs to its end and frees its slot;
    when only its `expires` passed, its result is still delivered (True).
    """
    rec = rt.records.load(job_id)
    if rec is None:
        return False, []
    if rec.state in UNSENT:
        done, fx = cancel(rt, rec, "expired" if expired else REVOKED)
        if done:
            delivered(rt, job_id, outcome_key)  # Celery stored REVOKED already
        return False, fx
    if not expired:
        if rec.state in TERMINAL:
            delivered(rt, job_id, outcome_key)  # the caller revoked it: REVOKED is its outcome
        return False, []
    # Only its `expires` passed while TTAPI has (or had) the job: its result is still owed and
    # goes out through the job's own report (Celery never overwrites a stored SUCCESS).
    return rec.state not in TERMINAL or rec.state == RecordState.SUCCESS, []
