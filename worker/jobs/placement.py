"""Which account a job goes to, and moving jobs off an account that left rotation.

A job keeps its account (pinned by the caller, or its parent's for a follow-up) unless that
account is out of rotation or its key was removed; then an unpinned job moves to the enabled
account with the most free slots, and a pinned one fails naming the account.
"""

from __future__ import annotations

from worker.capacity.accounts import NoAccountLeft
from worker.jobs.effects import Effects, Failed, Park, Report
from worker.jobs.record import UNSENT, RecordState
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.jobs.settle import fail, hand_on
from worker.ttapi import errors

_PARKED = Park()
Placed = tuple[str | Failed | Park, Effects]


def account_for(rt: Runtime, rec: JobRecord) -> Placed:
    """The job's account: pinned, parent's, or chosen now; moved off an account out of
    rotation (the effects: slots it gave back handed on, a report of a job failed here)."""
    fx: Effects = []
    if rec.account and not rt.pool.configured(rec.account):
        if rec.pinned and rt.pool.removed(rec.account):  # pinned, or a follow-up's parent's
            return _fail_now(
                rt, rec, f"account {rec.account} is no longer configured (its key was removed)"
            )
        if rec.pinned:  # a key that a newer node has: let one of those nodes take it
            return _PARKED, [Report(rec.job_id, rt.timing.bounds.max_s)]
        fx = hand_on(rt, rec.account, rt.guard.release(rec.account, rec.job_id))
    elif rec.account:
        reason = rt.pool.disabled_reason(rec.account)
        if reason is None:
            return rec.account, fx
        if rec.pinned:
            return _fail_now(rt, rec, f"account {rec.account} is out of rotation ({reason})")
        fx = hand_on(rt, rec.account, rt.guard.release(rec.account, rec.job_id))
    try:
        label = rt.pool.choose(rec.kind)
    except NoAccountLeft as exc:
        failed, more = _fail_now(rt, rec, str(exc))
        return failed, fx + more
    # Compare-and-set: two runs of one job (a duplicated message, a resumed task racing the
    # pump's) may each choose an account; the first to write it wins and the other follows.
    if rt.records.cas(rec.job_id, {"account": rec.account, "state": UNSENT}, account=label):
        rec.account = label
        return label, fx
    fresh = rt.records.load(rec.job_id)
    if fresh is None or fresh.state not in UNSENT or not fresh.account:
        return _PARKED, fx  # another run moved it on: that run drives it
    rec.account = fresh.account
    placed, more = account_for(rt, rec)
    return placed, fx + more


def _fail_now(rt: Runtime, rec: JobRecord, message: str) -> tuple[Failed, Effects]:
    _, fx = fail(
        rt, rec, message, from_states=(RecordState.NEW, RecordState.WAITING, RecordState.SUBMITTING)
    )
    return Failed(errors.JobFailed(message)), fx


def move_waiters(rt: Runtime, label: str) -> Effects:
    """Re-publish everyone queued on an account that left rotation, so they go elsewhere.

    Each leaves the queue in its own run (`account_for` moves it off the account), not here: a
    kill before the reports go out leaves every waiter in its line, never a job that nothing
    will ever run again.
    """
    return [Report(job_id) for job_id in rt.guard.state(label).waiters]
