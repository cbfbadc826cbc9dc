"""The second half of a job's life: poll TTAPI until the job ends, or reconcile a lost submit.

Each poll is an engine timer (never a sleep): a step returns the next one as a `PollAt` effect.
`seq` numbers the poll chain of a job so that a duplicated or revived poll step runs at most
once.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from worker.capacity import metrics
from worker.jobs.effects import Effects, PollAt
from worker.jobs.reconcile import reconcile
from worker.jobs.record import RecordState
from worker.jobs.records import JobRecord, progress_note
from worker.jobs.runtime import Runtime
from worker.jobs.settle import fail, settle
from worker.jobs.states import show_submitted
from worker.jobs.timing import poll_gap, timeout_s
from worker.policy import (
    MAX_FETCH_ERRORS,
)
from worker.ttapi import errors

log = logging.getLogger(__name__)


def poll(rt: Runtime, job_id: str, seq: int, known: JobRecord | None = None) -> Effects:
    """One poll step of job `job_id`: fetch it, then settle it or schedule the next step.

    `known` is the record as the previous step of this job left it (the engine keeps it from
    that step's `PollAt`, so a step that changes nothing costs no Redis read); the next
    `PollAt` carries the record as this step leaves it.
    """
    rec = known if known is not None and known.poll_seq == seq else rt.records.load(job_id)
    if rec is None or rec.poll_seq != seq:
        return []  # stale duplicate, or a revived chain has taken over
    if rec.state not in (RecordState.SUBMITTED, RecordState.AMBIGUOUS):
        return []
    if not rt.pool.configured(rec.account):
        if rt.pool.removed(rec.account):
            return orphan(rt, rec)[1]
        # a key a newer node has: one of those nodes polls it next time
        return _next(rt, rec, seq, errors_in_row=rec.fetch_errors)
    if rec.state == RecordState.AMBIGUOUS:
        return reconcile(rt, rec)
    # Every ending below is a compare-and-set on this very step of this very TTAPI job.
    this_step = {"ttapi_job_id": rec.ttapi_job_id, "poll_seq": seq}
    try:
        info = rt.pool.client(rec.account).fetch(rec.ttapi_job_id, rec.kind)
    except (errors.NotFound, errors.Unauthorized, errors.BadRequest) as exc:
        # Counted apart from 429/5xx: only TTAPI not knowing the job, again and again, ends it.
        unknown = rec.unknown_fetches + 1
        if unknown >= MAX_FETCH_ERRORS or _past_deadline(rt, rec):
            _, fx = fail(
                rt,
                rec,
                f"TTAPI cannot report job {rec.ttapi_job_id}: {exc}",
                from_states=(RecordState.SUBMITTED,),
                resume_self=True,
                expect=this_step,
            )
            return fx
        fetch_errors = rec.fetch_errors + 1
        return _next(rt, rec, seq, errors_in_row=fetch_errors, unknown_fetches=unknown)
    except errors.TTAPIError as exc:  # 429, 5xx, timeouts, resets, odd bodies: never fatal
        if exc.status_code:
            metrics.count(rt.redis, rec.account, exc.status_code, keys=rt.keys)
        if _past_deadline(rt, rec):  # ...until the job's deadline: it ends, its place stays
            return _time_out(rt, rec, this_step, f"and TTAPI could not be asked ({exc})")
        log.info("job %s: fetch failed (%s); backing off", job_id, exc)
        at_least = rt.timing.retry_after(getattr(exc, "retry_after", None))
        return _next(rt, rec, seq, errors_in_row=rec.fetch_errors + 1, at_least=at_least)
    if info.finished:
        settled, fx = settle(rt, rec, info)
        if not settled:
            fresh = rt.records.load(job_id)
            # e.g. TTAPI named another job
            if fresh is not None and fresh.state == RecordState.SUBMITTED:
                fx = _next(rt, fresh, seq)
        return fx
    now = rt.clock()
    if _past_deadline(rt, rec):
        return _time_out(rt, rec, this_step, f"and TTAPI still reports it {info.status}")
    moved = info.progress != rec.progress
    changes = _progressed(rec, info.progress, now) if moved else {}
    if not (rec.fetch_errors or rec.unknown_fetches):
        # The same step polls again later (the engine holds the schedule; only a duplicate of
        # this very step could run twice): nothing to write, or the new progress, which rides
        # with the state that shows it (one call; a stale step's lands nowhere).
        gap = poll_gap(rt.timing, rt.durations, rec, now)
        fx = [PollAt(rec.job_id, seq, gap, rec.account, known=_kept(rt, rec))]
        if not moved:
            return fx
        # With it, when this poll came and the next is due: the pump takes a job whose next
        # poll is long overdue for a lost chain (`worker.jobs.holders`), and `mjw show` says it.
        rec.last_poll_at, rec.next_poll_at = now, now + gap
        note = progress_note(seq, **changes, last_poll_at=now, next_poll_at=now + gap)
        return [*fx, show_submitted(rec, note=note)]
    changes.update(unknown_fetches=0, last_poll_at=now)
    fx = _next(rt, rec, seq, **changes)
    if not fx:
        return []
    rec.poll_seq, rec.unknown_fetches, rec.last_poll_at = seq + 1, 0, now
    rec.fetch_errors = 0
    kept = [replace(f, known=_kept(rt, rec)) if isinstance(f, PollAt) else f for f in fx]
    return [*kept, show_submitted(rec)] if moved else kept


def _kept(rt: Runtime, rec: JobRecord) -> JobRecord | None:
    """The record the next poll may start from: none when callbacks end jobs (each poll is
    then a safety poll a while later, and reads it first: a callback may have ended the job)."""
    return rec if rt.timing.hook_poll_s is None else None


def _progressed(rec: JobRecord, progress: int, now: float) -> dict[str, Any]:
    """Move `rec` to `progress`, seen `now`: the fields that change (the previous progress and
    when each came: `worker.jobs.timing` predicts the end from them)."""
    prev_at = rec.last_progress_at if rec.progress else 0.0
    changes: dict[str, Any] = {
        "progress": progress,
        "prev_progress": rec.progress,
        "prev_progress_at": prev_at,
        "last_progress_at": now,
    }
    rec.prev_progress, rec.prev_progress_at = rec.progress, prev_at
    rec.progress, rec.last_progress_at = progress, now
    return changes


def _past_deadline(rt: Runtime, rec: JobRecord) -> bool:
    return rt.clock() > rec.deadline > 0


def _time_out(rt: Runtime, rec: JobRecord, this_step: dict[str, Any], why: str) -> Effects:
    """End a job past its deadline. TTAPI may still run it, so its slot becomes occupancy for
    one more of TTAPI's timeouts (a probe TTAPI accepts clears it sooner), never a free slot."""
    return fail(
        rt,
        rec,
        f"Job Timeout: TTAPI job {rec.ttapi_job_id} did not finish within its timeout "
        f"({timeout_s(rec)}s) and grace, {why}",
        from_states=(RecordState.SUBMITTED,),
        resume_self=True,
        expect=this_step,
        occupy_s=timeout_s(rec) * rt.timing.time_scale,
    )[1]


def orphan(rt: Runtime, rec: JobRecord) -> tuple[bool, Effects]:
    """End a job whose account was removed from the configuration: nobody can ask TTAPI now."""
    what = f"TTAPI job {rec.ttapi_job_id}" if rec.ttapi_job_id else "its submit"
    message = (
        f"account {rec.account} was removed from the configuration while {what} was "
        "in progress; its result cannot be fetched without that account's key"
    )
    return fail(
        rt,
        rec,
        message,
        from_states=(RecordState.SUBMITTING, RecordState.SUBMITTED, RecordState.AMBIGUOUS),
        resume_self=True,
        expect={"ttapi_job_id": rec.ttapi_job_id},
    )


def _next(
    rt: Runtime,
    rec: JobRecord,
    seq: int,
    *,
    errors_in_row: int = 0,
    at_least: float = 0.0,
    **changes: object,
) -> Effects:
    """Step the poll chain to `seq + 1` with `changes`, in one compare-and-set, and poll then;
    nothing if this step was stale. No lease renewal: a lease outlives the job, and the
    engine's keeper renews it (`worker.engine.keeper`; the pump, for accounts no engine
    holds)."""
    now = rt.clock()
    if at_least:
        gap = max(at_least, rt.timing.bounds.min_s)
    else:
        gap = poll_gap(rt.timing, rt.durations, rec, now, errors_in_row=errors_in_row)
    if not rt.records.cas(
        rec.job_id,
        {"poll_seq": seq, "state": [RecordState.SUBMITTED, RecordState.AMBIGUOUS]},
        poll_seq=seq + 1,
        fetch_errors=errors_in_row,
        next_poll_at=now + gap,
        **changes,
    ):
        return []
    return [PollAt(rec.job_id, seq + 1, gap, rec.account)]
