"""The second half of a job's life: poll TTAPI until the job ends, or reconcile a lost submit.

Each poll is a short task scheduled with a countdown (never a sleep). `seq` numbers the poll
chain of a job so that a duplicated or revived poll message runs at most once per step.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from worker import errors, metrics
from worker.polling import next_gap
from worker.records import AMBIGUOUS, SUBMITTED, WAITING, JobRecord
from worker.runtime import Runtime
from worker.settle import fail, settle

log = logging.getLogger(__name__)
MAX_FETCH_ERRORS = 8  # 404/401 on fetch, in a row, before the job is given up
CLOCK_SKEW = timedelta(seconds=5)


def schedule_poll(rt: Runtime, rec: JobRecord, seq: int, *, errors_in_row: int = 0) -> None:
    """Schedule fetch number `seq` of a job at the gap the polling policy chooses."""
    now = rt.clock()
    mode = str(rec.params.get("mode") or rec.parent.get("mode") or "fast")
    if rt.settings.mj_hook_base_url and errors_in_row == 0:
        # The webhook ends the job; polling only catches a callback that never came. Half the
        # visibility timeout keeps Redis from redelivering the countdown message early.
        gap = min(rt.settings.mj_hook_safety_poll_s, rt.settings.mj_visibility_timeout_s / 2)
    else:
        gap = next_gap(
            rt.timing.bounds,
            elapsed=now - rec.submitted_at_ts if rec.submitted_at_ts else 0.0,
            expected=rt.durations.expected(rec.account, mode, rec.kind),
            progress=rec.progress,
            last_progress=rec.prev_progress,
            since_last_progress=(rec.last_progress_at - rec.prev_progress_at
                                 if rec.prev_progress_at else 0.0),
            errors=errors_in_row,
        )
    rt.records.update(rec.job_id, next_poll_at=now + gap)
    rt.dispatcher.poll(rec.job_id, seq, gap)


def timeout_s(rec: JobRecord) -> int:
    """TTAPI's timeout of the job: its own, else TTAPI's default for its (or its parent's) mode."""
    mode = str(rec.params.get("mode") or rec.parent.get("mode") or "fast")
    return int(rec.params.get("timeout") or (600 if mode == "relax" else 300))


def deadline_for(rt: Runtime, rec: JobRecord, start: float) -> float:
    """When to give up on a job TTAPI started at `start`: its timeout, scaled, plus a grace."""
    return start + timeout_s(rec) * rt.timing.time_scale + rt.timing.deadline_grace_s


def poll(rt: Runtime, job_id: str, seq: int) -> None:
    """One poll step of job `job_id`: fetch it, then settle it or schedule the next step."""
    rec = rt.records.load(job_id)
    if rec is None or rec.poll_seq != seq:
        return  # stale duplicate, or a revived chain has taken over
    if rec.state == AMBIGUOUS:
        reconcile(rt, rec)
        return
    if rec.state != SUBMITTED:
        return
    client = rt.pool.client(rec.account)
    try:
        info = client.fetch(rec.ttapi_job_id)
    except (errors.NotFound, errors.Unauthorized, errors.BadRequest) as exc:
        # Counted apart from 429/5xx: only TTAPI not knowing the job, again and again, ends it.
        unknown = int(rec.extra.get("unknown_fetches") or 0) + 1
        if unknown >= MAX_FETCH_ERRORS:
            fail(rt, rec, f"TTAPI cannot report job {rec.ttapi_job_id}: {exc}",
                 from_states=(SUBMITTED,), resume_self=True)
            return
        rt.records.update(job_id, unknown_fetches=unknown)
        _next(rt, rec, seq, errors_in_row=rec.fetch_errors + 1)
        return
    except errors.TTAPIError as exc:  # 429, 5xx, timeouts, resets, odd bodies: never fatal
        if exc.status_code:
            metrics.count(rt.redis, rec.account, exc.status_code)
        log.info("job %s: fetch failed (%s); backing off", job_id, exc)
        _next(rt, rec, seq, errors_in_row=rec.fetch_errors + 1,
              at_least=getattr(exc, "retry_after", None) or 0.0)
        return
    if info.finished:
        if not settle(rt, rec, info):
            fresh = rt.records.load(job_id)
            if fresh is not None and fresh.state == SUBMITTED:  # e.g. TTAPI named another job
                _next(rt, fresh, seq)
        return
    now = rt.clock()
    if now > rec.deadline > 0:
        fail(rt, rec, f"Job Timeout: TTAPI job {rec.ttapi_job_id} did not finish within its "
             f"timeout ({timeout_s(rec)}s) and grace; its slot is freed",
             from_states=(SUBMITTED,), resume_self=True)
        return
    changes: dict[str, object] = {"fetch_errors": 0, "unknown_fetches": 0, "last_poll_at": now}
    if info.progress != rec.progress:
        prev_at = rec.last_progress_at if rec.progress else 0.0
        changes.update(progress=info.progress, prev_progress=rec.progress,
                       prev_progress_at=prev_at, last_progress_at=now)
        rec.prev_progress, rec.prev_progress_at = rec.progress, prev_at
        rec.progress, rec.last_progress_at = info.progress, now
    rt.records.update(job_id, **changes)
    rec.fetch_errors = 0
    _next(rt, rec, seq)


def _next(rt: Runtime, rec: JobRecord, seq: int, *, errors_in_row: int = 0,
          at_least: float = 0.0) -> None:
    if not rt.records.cas(rec.job_id, {"poll_seq": seq}, poll_seq=seq + 1,
                          fetch_errors=errors_in_row):
        return
    rt.guard.renew(rec.account, rec.job_id)
    if at_least:
        rt.records.update(rec.job_id, next_poll_at=rt.clock() + at_least)
        rt.dispatcher.poll(rec.job_id, seq + 1, max(at_least, rt.timing.bounds.min_s))
        return
    schedule_poll(rt, rec, seq + 1, errors_in_row=errors_in_row)


def reconcile(rt: Runtime, rec: JobRecord) -> None:
    """Find the job a lost submit may have created (fetch-list); resubmit only after a grace."""
    client = rt.pool.client(rec.account)
    seq = rec.poll_seq
    try:
        rows = client.fetch_list(page=1, limit=100)
    except errors.TTAPIError as exc:
        log.info("job %s: fetch-list failed (%s); will look again", rec.job_id, exc)
        _next_look(rt, rec, seq)
        return
    action = str(rec.params.get("action") or rec.kind)
    prompt = _norm(str(rec.params.get("prompt") or rec.parent.get("prompt") or ""))
    earliest = datetime.fromtimestamp(rec.sent_at, UTC) - CLOCK_SKEW
    for row in rows:
        if (row.action or action) != action:
            continue
        if prompt and not _same_prompt(prompt, _norm(row.prompt or "")):
            continue
        if row.created_at and row.created_at < earliest:
            continue
        if not rt.redis.set(f"mj:claim:{row.job_id}", rec.job_id, ex=86400, nx=True):
            continue  # another of our jobs owns it
        now = rt.clock()
        if rt.records.cas(rec.job_id, {"state": AMBIGUOUS, "poll_seq": seq}, state=SUBMITTED,
                          ttapi_job_id=row.job_id, submitted_at_ts=rec.sent_at,
                          deadline=deadline_for(rt, rec, rec.sent_at), poll_seq=seq + 1,
                          last_poll_at=now):
            log.warning("job %s: lost submit found at TTAPI as %s", rec.job_id, row.job_id)
            fresh = rt.records.load(rec.job_id)
            if fresh:
                schedule_poll(rt, fresh, seq + 1)
        return
    if rt.clock() - rec.sent_at < rt.timing.reconcile_grace_s:
        _next_look(rt, rec, seq)
        return
    # TTAPI has no such job after the grace: it was never created, so submit again (slot kept).
    if rt.records.cas(rec.job_id, {"state": AMBIGUOUS, "poll_seq": seq}, state=WAITING,
                      poll_seq=seq + 1, submit_attempts=0):
        log.warning("job %s: TTAPI never created it; submitting again", rec.job_id)
        rt.guard.renew(rec.account, rec.job_id)
        rt.dispatcher.resume(rec.job_id)


def _norm(prompt: str) -> str:
    return " ".join(prompt.lower().split())


def _same_prompt(ours: str, theirs: str) -> bool:
    """TTAPI may tidy a prompt or append flags (`--v 6.0`) to it: compare leniently."""
    return theirs == ours or theirs.startswith(ours + " ") or ours.startswith(theirs + " ")


def _next_look(rt: Runtime, rec: JobRecord, seq: int) -> None:
    if rt.records.cas(rec.job_id, {"poll_seq": seq}, poll_seq=seq + 1):
        rt.guard.renew(rec.account, rec.job_id)
        gap = rt.timing.bounds.clamp(rt.timing.reconcile_grace_s / 4)
        rt.dispatcher.poll(rec.job_id, seq + 1, gap)
