"""A submit TTAPI did not take, or whose answer was lost: what each such answer does.

499/429 put the job back first in line; 401/402 take the account out of rotation; a lost answer
(any 5xx, a timeout, a reset, an odd body) makes the job AMBIGUOUS until TTAPI's history says;
a connection never made retries with the slot kept; any other refusal (TTAPI's own 4xx) fails
the job with TTAPI's words. Each returns what follows as effects; a job that ended here is
reported by its task, re-published (`Report`).
"""

from __future__ import annotations

import logging
from typing import Any

from worker.capacity import metrics
from worker.jobs import refusals
from worker.jobs.backoff import Retry
from worker.jobs.effects import Effects, Fill, PollAt, Submit
from worker.jobs.placement import move_waiters
from worker.jobs.record import RecordState
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.jobs.settle import fail
from worker.jobs.states import show_waiting
from worker.policy import MAX_SUBMIT_ATTEMPTS
from worker.ttapi import errors

log = logging.getLogger(__name__)


def refused(rt: Runtime, rec: JobRecord, label: str, exc: errors.APIStatusError) -> Effects:
    """499/429: not created; the job waits first in line. A 499 means someone else uses this
    key: the guard keeps to the slots we hold and probes for more now and then. A 429 cools
    the account down (see `worker.jobs.refusals`)."""
    rt.records.move(
        rec.job_id, RecordState.SUBMITTING, RecordState.WAITING, submit_attempts=_not_counted(rec)
    )
    place, wait = refusals.requeue(rt, rec, label, exc)
    metrics.count(rt.redis, label, exc.status_code or 0, keys=rt.keys)
    log.warning(
        "job %s: %s %s on %s; retry in %.2fs",
        rec.job_id,
        exc.status_code,
        exc.message,
        label,
        wait,
    )
    # The next probe, or the end of the cooldown, fills the account again.
    return [show_waiting(rt, rec, label, place), Fill(label, wait)]


def account_refused(rt: Runtime, rec: JobRecord, label: str, exc: errors.APIStatusError) -> Effects:
    """401/402: the account leaves rotation; the job (unless pinned) and its waiters move."""
    rt.pool.disable(label, exc.status_code or 0, exc.message)
    rt.records.move(
        rec.job_id, RecordState.SUBMITTING, RecordState.WAITING, submit_attempts=_not_counted(rec)
    )
    if rec.pinned:
        # TTAPI's words first, unchanged; the caller also learns which account refused.
        message = f"{exc.message} (account {label}, HTTP {exc.status_code})"
        _, fx = fail(rt, rec, message, from_states=(RecordState.WAITING,), resume_self=True)
        return fx
    # Its submit again, on the engine's timers: `take_over` finds the account out of rotation
    # and moves the job (and its slot) to another account's line.
    return [Submit(label, rec.job_id), *move_waiters(rt, label)]


def answer_lost(rt: Runtime, rec: JobRecord, exc: errors.TTAPIError) -> Effects:
    """Any 5xx, a read timeout, a reset after sending: TTAPI may have created it. Reconcile
    first; it is submitted again (at most twice) only when TTAPI's history shows no such job."""
    if not rt.records.move(
        rec.job_id,
        RecordState.SUBMITTING,
        RecordState.AMBIGUOUS,
        expect={"sent_at": rec.sent_at},
        **lost(rt, rec, rt.clock()),
        last_error=exc.message[:300],
    ):
        return []  # another run moved it on (e.g. the pump took it for lost meanwhile)
    log.warning("job %s: submit answer lost (%s); reconciling via fetch-list", rec.job_id, exc)
    return [PollAt(rec.job_id, rec.poll_seq + 1, rt.timing.bounds.min_s, rec.account)]


def lost(rt: Runtime, rec: JobRecord, now: float) -> dict[str, Any]:
    """The changes that make a submit (sent at `rec.sent_at`) AMBIGUOUS at `now`: its next
    step, when it was lost, and its deadline. The deadline is the sent job's longest life at
    TTAPI; a loss within an earlier loss's resubmits keeps that one's (they happen within it)."""
    deadline = rec.deadline or rt.timing.deadline(rec, rec.sent_at or now)
    return {"poll_seq": rec.poll_seq + 1, "lost_at": now, "deadline": deadline}


def not_created(rt: Runtime, rec: JobRecord, label: str, exc: errors.TTAPIError) -> Effects:
    """A connection never made is retried (slot kept); 400/404 and the rest fail."""
    retryable = isinstance(exc, errors.ConnectError)
    if retryable and rec.submit_attempts < MAX_SUBMIT_ATTEMPTS:
        # keeps its slot: acquire re-enters
        rt.records.move(rec.job_id, RecordState.SUBMITTING, RecordState.WAITING)
        delay = rt.timing.backoff(Retry.CONNECT, rec.submit_attempts)  # on the engine's timers
        log.warning(
            "job %s: submit failed (%s); retry %s in %.2fs",
            rec.job_id,
            exc,
            rec.submit_attempts,
            delay,
        )
        return [Submit(label, rec.job_id, delay)]
    return fail(rt, rec, exc.message, from_states=(RecordState.SUBMITTING,), resume_self=True)[1]


def _not_counted(rec: JobRecord) -> int:
    """Submit attempts without the last one: a refusal that created nothing is no failure."""
    return max(rec.submit_attempts - 1, 0)


__all__ = ["account_refused", "answer_lost", "lost", "not_created", "refused"]
