"""A job's entry and its report: what every `mj.*` task does with its message.

The first run validates the inputs, writes the job's record and queues it on its account, for
the engine that holds that account to submit (`worker.jobs.submit`); the run then ends without
a result (`Park`: Celery's `Ignore`). A run returns its outcome and the effects the task
carries out (`worker.jobs.effects`). The job's task runs again once the job has ended, to
report it: its result stored, its canvas going on. A duplicated or redelivered message finds
the record further along and does nothing twice.

Once a job's record exists, an error that is not TTAPI's (a Redis call that gave up, a time
limit, a bug) must not end the task in FAILURE while the job goes on: its caller would see a
failure and later, when the job ends, its callbacks would fire too. Such an error parks the
run; the job goes on from its record (`worker.jobs.mishaps`), and after `MAX_STEP_ERRORS` a
job that has not reached TTAPI fails clearly through its record.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

from worker.capacity.accounts import NoAccountLeft
from worker.jobs import journal, mishaps, offers, quota, storing
from worker.jobs.delivery import ReportClaim
from worker.jobs.effects import Effects, Failed, Outcome, Park, Report, Revoked
from worker.jobs.outcome import ended
from worker.jobs.placement import account_for
from worker.jobs.record import IN_FLIGHT, TERMINAL, RecordState
from worker.jobs.records import JobRecord
from worker.jobs.revoke import REVOKED, cancel
from worker.jobs.runtime import Runtime
from worker.jobs.settle import hand_on
from worker.jobs.spec import make_spec
from worker.jobs.states import show_waiting
from worker.jobs.submit import EXPIRED
from worker.ttapi import errors

log = logging.getLogger(__name__)


def advance(
    rt: Runtime,
    job_id: str,
    kind: str,
    params: dict[str, Any],
    *,
    signature: dict[str, Any],
    account: str | None = None,
    parent: Any = None,
    expires_at: float = 0.0,
    tenant: str | None = None,
    priority: str | None = None,
) -> tuple[Outcome, Effects]:
    """Move job `job_id` as far as a task run can: record and queue it, or report its end.

    `signature` is how the task is re-published (stored on the record when it is written).
    `expires_at` is the task's `expires` (epoch seconds, 0 for none): a job that has not been
    submitted by then is revoked instead, while one TTAPI already runs is always delivered.
    `tenant` and `priority` (None: inherited from a parent, else the defaults) say who asked
    and how urgent it is (`worker.jobs.callers`).
    """
    rec = rt.records.load(job_id)
    if rec is None:
        try:
            spec = make_spec(
                rt, kind, params, account=account, parent=parent, tenant=tenant, priority=priority
            )
            # Placed before the record is written (in its kind's lane: worker.capacity.lanes).
            label = rt.pool.lane(spec.account, kind) if spec.account else rt.pool.choose(kind)
        except (errors.TTAPIError, NoAccountLeft) as exc:
            error = exc if isinstance(exc, errors.TTAPIError) else errors.JobFailed(str(exc))
            return Failed(error), []
        refused = quota.admit(rt, job_id, spec.caller.tenant)  # daily_jobs, once per job
        if refused is not None:
            return Failed(errors.JobFailed(refused)), []
        now = rt.clock()
        rec = rt.records.create(
            job_id,
            RecordState.WAITING,
            kind=kind,
            params=spec.params,
            account=label,
            pinned=spec.account is not None,
            parent=spec.parent,
            urgency=spec.urgency,
            tenant=spec.caller.tenant,
            priority=spec.caller.priority,
            poll_seq=0,
            sig=signature,
            expires_at=expires_at,
            waiting_since=now,
        )
    if rec.state in TERMINAL:
        # An ended job stays owed until the caller has stored the outcome (`delivered`, from
        # the task's after_return), so a kill in between loses nothing. One run claims the
        # report; a duplicate or overlapping one ends quietly: returning the result again
        # would fire the chain's callbacks a second time. A slow run keeps its claim alive,
        # and one that lost it anyway (stalled past it) returns nothing.
        if storing.held(rec):
            return Park(), []  # its files are being copied to the store: its copy reports it
        with ReportClaim(rt, job_id, rt.timing.stall_s) as report:
            if not report.token:
                return Park(), []
            # A revoke() that reached a worker after the submit: REVOKED, not its result.
            outcome = Revoked(REVOKED) if rec.revoke_asked_at else ended(rec)
            return (outcome if report.still_ours() else Park()), []
    if not rec.sig:
        rt.records.update(job_id, sig=signature)
    if rec.state in IN_FLIGHT:
        return Park(), []  # the engine drives it; it re-publishes this task when the job ends
    if rec.expires_at and rt.clock() > rec.expires_at:
        revoked, fx = cancel(rt, rec, EXPIRED)
        return (Revoked(EXPIRED) if revoked else Park()), fx
    return _queue(rt, rec)


P = ParamSpec("P")
Step = Callable[Concatenate[Runtime, str, P], tuple[Outcome, Effects]]


def _record_owns_errors(step: Step[P]) -> Step[P]:
    """`step`, but once the job's record exists an unexpected error parks the run instead of
    failing the task (see the module docstring); an error before any record propagates."""

    @functools.wraps(step)
    def guarded(
        rt: Runtime, job_id: str, /, *args: P.args, **kwargs: P.kwargs
    ) -> tuple[Outcome, Effects]:
        try:
            return step(rt, job_id, *args, **kwargs)
        except Exception as exc:
            if rt.records.load(job_id) is None:
                raise
            # Its own task runs again (it may not be queued yet): a Celery message.
            return mishaps.after_error(rt, job_id, exc, lambda delay: Report(job_id, delay))

    return guarded


run = _record_owns_errors(advance)
"""`advance` the job, with the record owning any error once it exists: the tasks' entry."""


def _queue(rt: Runtime, rec: JobRecord) -> tuple[Outcome, Effects]:
    """Queue the job on its account (pinned, its parent's, or chosen now) for the engine."""
    label, fx = account_for(rt, rec)
    if not isinstance(label, str):
        return label, fx
    queued, more = offers.enqueue(rt, rec, label)  # in its tenant's line of its class
    fx += more
    if rec.state == RecordState.NEW:
        rec.waiting_since = rt.clock()
        if not rt.records.move(
            rec.job_id,
            (RecordState.NEW,),
            RecordState.WAITING,
            expect={"account": label},
            waiting_since=rec.waiting_since,
        ):
            fresh = rt.records.load(rec.job_id)
            if fresh is None or fresh.account != label or fresh.state in TERMINAL:
                fx += hand_on(rt, label, rt.guard.release(label, rec.job_id))
            return Park(), fx
    if not queued.holds and not queued.free:
        # the account is full, or its tenant at its max_in_progress: a wait to show
        fx.append(show_waiting(rt, rec, label, queued.position, capped=queued.capped))
        journal.parked(rec, label, queued.position)
    return Park(), fx


__all__ = ["advance", "run"]
