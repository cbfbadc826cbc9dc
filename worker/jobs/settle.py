"""How a job ends: record the outcome once, free its slot, hand it on, report the task.

Poll steps and webhook callbacks both end jobs through `settle`; the compare-and-set on the
record makes the first one win and the others no-ops, so a duplicated callback is harmless.
What follows an ending (the task's report, the next waiter's submit) is returned as effects.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from worker import policy
from worker.capacity import metrics
from worker.jobs import journal, offers, refusals, storing
from worker.jobs.effects import Effects, Report, Submit
from worker.jobs.record import RecordState, Storing
from worker.jobs.records import JobRecord, progress_note
from worker.jobs.runtime import Runtime
from worker.jobs.spec import job_result, remember
from worker.jobs.states import show_submitted
from worker.ttapi.responses import JobInfo, JobStatus

log = logging.getLogger(__name__)
# FAILED messages worth one more try (TTAPI's FAQ); banned/denied/invalid ones are final.
TRANSIENT = (
    "job timeout",
    "[internal error]",
    "[internal server error]",
    "execution error",
    "failed to process your command",
    "unknown integration",
)


def is_transient(message: str) -> bool:
    """True when TTAPI's FAILED message is worth resubmitting once."""
    text = message.strip().lower()
    return any(text.startswith(t) or t in text for t in TRANSIENT)


def hand_on(rt: Runtime, label: str, job_ids: list[str]) -> Effects:
    """The jobs just handed a slot on `label` (a guard's release or fill woke them) are to be
    submitted: by the engine holding the account, side by side in its threads. Never in this
    call: one job ending at once must not nest another's submit."""
    fx = offers.after_handoff(rt, label, job_ids)  # a place left, a tenant under its cap again
    return [*(Submit(label, job_id) for job_id in job_ids), *fx]


def _release(rt: Runtime, rec: JobRecord) -> Effects:
    if not rec.account:
        return []
    return hand_on(rt, rec.account, rt.guard.release(rec.account, rec.job_id))


def fail(
    rt: Runtime,
    rec: JobRecord,
    message: str,
    *,
    from_states: tuple[RecordState, ...],
    resume_self: bool = False,
    expect: Mapping[str, object] | None = None,
    occupy_s: float = 0.0,
) -> tuple[bool, Effects]:
    """End the job in FAILED with `message`, free its slot; False if it had already moved on.
    With `resume_self` its task is re-published to report it (the engine's endings).

    `expect` names other fields that must still hold (compare-and-set). With `occupy_s`, TTAPI
    may still run the job: its slot becomes occupancy for at most that long, one place fewer
    that a probe TTAPI accepts gives back (`refusals.unresolved`), not a slot locked for it.
    """
    now = rt.clock()
    # The move notes the failure as owed to its caller: whoever stores it settles the debt.
    if not rt.records.move(
        rec.job_id,
        from_states,
        RecordState.FAILED,
        expect=expect,
        error=message,
        finished_at_ts=now,
    ):
        return False, []
    log.warning("job %s failed: %s", rec.job_id, message)
    journal.ended(rt, rec, RecordState.FAILED, now)
    fx: Effects = [Report.end(rec.job_id, rec.sig)] if resume_self else []
    if occupy_s > 0 and rec.account:
        fx += hand_on(rt, rec.account, refusals.unresolved(rt, rec, rec.account, occupy_s))
    else:
        fx += _release(rt, rec)
    return True, fx


def _note_success(
    rt: Runtime, rec: JobRecord, result: dict[str, Any], took_s: float, store: Storing
) -> None:
    """In one round trip: the finished job indexed by its TTAPI id (a follow-up named by that id
    looks there, so before the report), its learned duration and its ending (counted, indexed,
    logged); with `store`, listed as being copied to the store."""
    mode = str(result["mode"])
    pipe = rt.redis.pipeline(transaction=False)
    if store:
        storing.note(pipe, rt, rec.job_id, rec.submitted_at_ts + took_s)
    remember(rt, result, pipe)
    rt.durations.learn(rec.account, mode, rec.kind, took_s, client=pipe)
    metrics.observe_duration(pipe, mode, took_s, keys=rt.keys)
    journal.ended(rt, rec, RecordState.SUCCESS, rec.submitted_at_ts + took_s, pipe)
    pipe.execute()


def settle(rt: Runtime, rec: JobRecord, info: JobInfo) -> tuple[bool, Effects]:
    """Apply a finished TTAPI job (from fetch or a hook); True if this call ended or retried it.

    The job's end is published before its slot is passed on: with hand-off in place, passing
    it on is the next waiter's submit (an HTTP call), and the caller need not wait for that.
    """
    if rec.state != RecordState.SUBMITTED or (info.job_id and info.job_id != rec.ttapi_job_id):
        return False, []
    now = rt.clock()
    # Only while the record still tracks the TTAPI job this answer is about: a stale poll of
    # an earlier attempt must never end (or retry) the record of its resubmitted successor.
    same_job = {"ttapi_job_id": rec.ttapi_job_id}
    if info.status == JobStatus.SUCCESS:
        result = job_result(rec, info, now)
        store = storing.mode_for(rt, rec, result)  # its files copied to the store first?
        if not rt.records.move(  # and owed to its caller, in the same breath
            rec.job_id,
            RecordState.SUBMITTED,
            RecordState.SUCCESS,
            expect=same_job,
            result=result,
            finished_at_ts=now,
            progress=100,
            **storing.fields(store, now),
        ):
            return False, []
        _note_success(rt, rec, result, now - rec.submitted_at_ts, store)
        # Its report (a message published before its slot is passed on; one run in the
        # engine's process goes after it: `worker.adapter.dispatch`).
        fx: Effects = [] if store == Storing.HOLD else [Report.end(rec.job_id, rec.sig)]
        if store:  # a held job's report waits for its copy; its slot does not
            fx.append(storing.hand_over(rec))
        return True, fx + _release(rt, rec)
    message = info.message or "TTAPI reported the job FAILED without a reason"
    if is_transient(message) and rec.resubmits < policy.TRANSIENT_RESUBMITS:
        # Keep the slot: the resubmit reuses it (acquire is re-entrant), and the engine
        # holding the account submits it again (the record says WAITING: a scan finds it).
        if not rt.records.move(
            rec.job_id,
            RecordState.SUBMITTED,
            RecordState.WAITING,
            expect=same_job,
            resubmits=rec.resubmits + 1,
            previous_job_id=rec.ttapi_job_id,
            ttapi_job_id="",
            submit_attempts=0,
            deadline=0,  # the resubmit's own comes with its submit (or with its loss)
        ):
            return False, []
        log.warning(
            "job %s: TTAPI job %s failed (%s); resubmitting once",
            rec.job_id,
            rec.ttapi_job_id,
            message,
        )
        rt.guard.renew(rec.account, rec.job_id)
        return True, [Submit(rec.account, rec.job_id)]  # on the engine's timers, no message
    return fail(
        rt, rec, message, from_states=(RecordState.SUBMITTED,), resume_self=True, expect=same_job
    )


def record_progress(rt: Runtime, rec: JobRecord, progress: int) -> Effects:
    """A callback's progress of a job still in progress: kept when higher, and shown; the
    record takes it with the state that shows it, in one call, which ignores a late or stale
    one (`ProgressNote`)."""
    if rec.state != RecordState.SUBMITTED or progress <= rec.progress:
        return []
    note = progress_note(
        rec.poll_seq,
        progress,
        prev_progress=rec.progress,
        prev_progress_at=rec.last_progress_at if rec.progress else 0.0,
        last_progress_at=rt.clock(),
    )
    rec.progress = progress
    return [show_submitted(rec, note=note)]


__all__ = ["fail", "hand_on", "is_transient", "record_progress", "settle"]
