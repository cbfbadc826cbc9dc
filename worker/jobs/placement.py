"""Which account a job goes to, and moving jobs off an account that left rotation.

A job keeps its account (pinned by the caller, or its parent's for a follow-up) unless that
account is out of rotation or its key was removed; then an unpinned job moves to the enabled
account with the most free slots, and a pinned one fails naming the account.
"""

from __future__ import annotations

from worker.capacity.accounts import NoAccountLeft
from worker.jobs.outcome import Failed, Park
from worker.jobs.record import UNSENT, RecordState
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.jobs.settle import fail, resume_all
from worker.ttapi import errors

_PARKED = Park()


def account_for(rt: Runtime, rec: JobRecord) -> str | Failed | Park:
    """The job's account: pinned, parent's, or chosen now; moved off an account out of rotation."""
    if rec.account and not rt.pool.configured(rec.account):
        if rec.pinned and rt.pool.removed(rec.account):  # pinned, or a follow-up's parent's
            return _fail_now(
                rt, rec, f"account {rec.account} is no longer configured (its key was removed)"
            )
        if rec.pinned:  # a key that a newer node has: let one of those nodes take it
            rt.dispatcher.resume(rec.job_id, rt.timing.bounds.max_s)
            return _PARKED
        resume_all(rt, rec.account, rt.guard.release(rec.account, rec.job_id))
    elif rec.account:
        reason = rt.pool.disabled_reason(rec.account)
        if reason is None:
            return rec.account
        if rec.pinned:
            return _fail_now(rt, rec, f"account {rec.account} is out of rotation ({reason})")
        resume_all(rt, rec.account, rt.guard.release(rec.account, rec.job_id))
    try:
        label = rt.pool.choose(rec.kind)
    except NoAccountLeft as exc:
        return _fail_now(rt, rec, str(exc))
    # Compare-and-set: two runs of one job (a duplicated message, a resumed task racing the
    # pump's) may each choose an account; the first to write it wins and the other follows.
    if rt.records.cas(rec.job_id, {"account": rec.account, "state": UNSENT}, account=label):
        rec.account = label
        return label
    fresh = rt.records.load(rec.job_id)
    if fresh is None or fresh.state not in UNSENT or not fresh.account:
        return _PARKED  # another run moved it on: that run drives it
    rec.account = fresh.account
    return account_for(rt, rec)


def _fail_now(rt: Runtime, rec: JobRecord, message: str) -> Failed:
    fail(
        rt, rec, message, from_states=(RecordState.NEW, RecordState.WAITING, RecordState.SUBMITTING)
    )
    return Failed(errors.JobFailed(message))


def move_waiters(rt: Runtime, label: str) -> None:
    """Re-publish everyone queued on an account that left rotation, so they go elsewhere.

    Published before it leaves the queue: a kill in between leaves a duplicate message (which
    the record makes harmless), never a job that nothing will ever run again.
    """
    for job_id in rt.guard.state(label).waiters:
        rt.dispatcher.resume(job_id)
        resume_all(rt, label, rt.guard.release(label, job_id))
