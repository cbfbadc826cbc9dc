"""The second half of a job's life: poll TTAPI until the job ends, or reconcile a lost submit.

Each poll is a short task scheduled with a countdown (never a sleep). `seq` numbers the poll
chain of a job so that a duplicated or revived poll message runs at most once per step.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from worker.capacity import metrics
from worker.jobs.cadence import next_gap
from worker.jobs.records import AMBIGUOUS, SUBMITTED, SUBMITTING, WAITING, JobRecord
from worker.jobs.settle import fail, settle
from worker.jobs.spec import mode_of
from worker.jobs.states import show_submitted
from worker.keys import CLAIM_TTL_S
from worker.policy import (
    AMBIGUOUS_RESUBMITS,
    DEFAULT_TIMEOUT_S,
    HISTORY_PAGE_SIZE,
    HISTORY_PAGES,
    MAX_FETCH_ERRORS,
    RELAX_TIMEOUT_S,
)
from worker.runtime import Runtime
from worker.ttapi import errors
from worker.ttapi.responses import JobListItem

log = logging.getLogger(__name__)
CLOCK_SKEW = timedelta(seconds=5)


def schedule_poll(rt: Runtime, rec: JobRecord, seq: int, *, errors_in_row: int = 0) -> None:
    """Schedule fetch number `seq` of a job at the gap the polling policy chooses."""
    now = rt.clock()
    mode = mode_of(rec.params, rec.parent)
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
            since_last_progress=(
                rec.last_progress_at - rec.prev_progress_at if rec.prev_progress_at else 0.0
            ),
            errors=errors_in_row,
        )
    rt.records.update(rec.job_id, next_poll_at=now + gap)
    rt.dispatcher.poll(rec.job_id, seq, gap)


def timeout_s(rec: JobRecord) -> int:
    """TTAPI's timeout of the job: its own, else TTAPI's default for its (or its parent's) mode."""
    mode = mode_of(rec.params, rec.parent)
    default = RELAX_TIMEOUT_S if mode == "relax" else DEFAULT_TIMEOUT_S
    return int(rec.params.get("timeout") or default)


def deadline_for(rt: Runtime, rec: JobRecord, start: float) -> float:
    """When to give up on a job TTAPI started at `start`: its timeout, scaled, plus a grace."""
    return start + timeout_s(rec) * rt.timing.time_scale + rt.timing.deadline_grace_s


def poll(rt: Runtime, job_id: str, seq: int) -> None:
    """One poll step of job `job_id`: fetch it, then settle it or schedule the next step."""
    rec = rt.records.load(job_id)
    if rec is None or rec.poll_seq != seq:
        return  # stale duplicate, or a revived chain has taken over
    if rec.state not in (SUBMITTED, AMBIGUOUS):
        return
    if not rt.pool.configured(rec.account):
        if rt.pool.removed(rec.account):
            orphan(rt, rec)
        else:  # a key a newer node has: one of those nodes polls it next time
            _next(rt, rec, seq, errors_in_row=rec.fetch_errors)
        return
    if rec.state == AMBIGUOUS:
        reconcile(rt, rec)
        return
    # Every ending below is a compare-and-set on this very step of this very TTAPI job.
    this_step = {"ttapi_job_id": rec.ttapi_job_id, "poll_seq": seq}
    try:
        info = rt.pool.client(rec.account).fetch(rec.ttapi_job_id)
    except (errors.NotFound, errors.Unauthorized, errors.BadRequest) as exc:
        # Counted apart from 429/5xx: only TTAPI not knowing the job, again and again, ends it.
        unknown = rec.unknown_fetches + 1
        if unknown >= MAX_FETCH_ERRORS:
            fail(
                rt,
                rec,
                f"TTAPI cannot report job {rec.ttapi_job_id}: {exc}",
                from_states=(SUBMITTED,),
                resume_self=True,
                expect=this_step,
            )
            return
        rt.records.update(job_id, unknown_fetches=unknown)
        _next(rt, rec, seq, errors_in_row=rec.fetch_errors + 1)
        return
    except errors.TTAPIError as exc:  # 429, 5xx, timeouts, resets, odd bodies: never fatal
        if exc.status_code:
            metrics.count(rt.redis, rec.account, exc.status_code, keys=rt.keys)
        log.info("job %s: fetch failed (%s); backing off", job_id, exc)
        _next(
            rt,
            rec,
            seq,
            errors_in_row=rec.fetch_errors + 1,
            at_least=rt.timing.retry_after(getattr(exc, "retry_after", None)),
        )
        return
    if info.finished:
        if not settle(rt, rec, info):
            fresh = rt.records.load(job_id)
            if fresh is not None and fresh.state == SUBMITTED:  # e.g. TTAPI named another job
                _next(rt, fresh, seq)
        return
    now = rt.clock()
    if now > rec.deadline > 0:
        fail(
            rt,
            rec,
            f"Job Timeout: TTAPI job {rec.ttapi_job_id} did not finish within its "
            f"timeout ({timeout_s(rec)}s) and grace; its slot is freed",
            from_states=(SUBMITTED,),
            resume_self=True,
            expect=this_step,
        )
        return
    changes: dict[str, object] = {"fetch_errors": 0, "unknown_fetches": 0, "last_poll_at": now}
    moved = info.progress != rec.progress
    if moved:
        prev_at = rec.last_progress_at if rec.progress else 0.0
        changes.update(
            progress=info.progress,
            prev_progress=rec.progress,
            prev_progress_at=prev_at,
            last_progress_at=now,
        )
        rec.prev_progress, rec.prev_progress_at = rec.progress, prev_at
        rec.progress, rec.last_progress_at = info.progress, now
    rt.records.update(job_id, **changes)
    if moved:
        show_submitted(rt, rec)
    rec.fetch_errors = 0
    _next(rt, rec, seq)


def orphan(rt: Runtime, rec: JobRecord) -> bool:
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
        from_states=(SUBMITTING, SUBMITTED, AMBIGUOUS),
        resume_self=True,
        expect={"ttapi_job_id": rec.ttapi_job_id},
    )


def _next(
    rt: Runtime, rec: JobRecord, seq: int, *, errors_in_row: int = 0, at_least: float = 0.0
) -> None:
    if not rt.records.cas(
        rec.job_id, {"poll_seq": seq}, poll_seq=seq + 1, fetch_errors=errors_in_row
    ):
        return
    rt.guard.renew(rec.account, rec.job_id)
    if at_least:
        rt.records.update(rec.job_id, next_poll_at=rt.clock() + at_least)
        rt.dispatcher.poll(rec.job_id, seq + 1, max(at_least, rt.timing.bounds.min_s))
        return
    schedule_poll(rt, rec, seq + 1, errors_in_row=errors_in_row)


def adopt(rt: Runtime, rec: JobRecord, ttapi_job_id: str, *, seq: int | None = None) -> bool:
    """Make an AMBIGUOUS record track `ttapi_job_id`, found to be the job its lost submit made.

    The claim (`SET NX`, or already ours) keeps two of our records from taking one TTAPI job.
    `seq` pins the poll step that found it; without it (a callback) any step will do.
    """
    claim = rt.keys.claim(ttapi_job_id)
    if not rt.redis.set(claim, rec.job_id, ex=CLAIM_TTL_S, nx=True) and (
        rt.redis.get(claim) != rec.job_id
    ):
        return False  # another of our jobs owns it
    expect: dict[str, object] = {"state": AMBIGUOUS}
    if seq is not None:
        expect["poll_seq"] = seq
    next_seq = (rec.poll_seq if seq is None else seq) + 1
    now = rt.clock()
    started = rec.sent_at or now
    if not rt.records.cas(
        rec.job_id,
        expect,
        state=SUBMITTED,
        ttapi_job_id=ttapi_job_id,
        submitted_at_ts=started,
        deadline=deadline_for(rt, rec, started),
        poll_seq=next_seq,
        last_poll_at=now,
    ):
        return False
    log.warning("job %s: lost submit found at TTAPI as %s", rec.job_id, ttapi_job_id)
    rt.guard.renew(rec.account, rec.job_id)
    fresh = rt.records.load(rec.job_id)
    if fresh is not None:
        show_submitted(rt, fresh)
        schedule_poll(rt, fresh, next_seq)
    return True


def reconcile(rt: Runtime, rec: JobRecord) -> None:
    """Find the job a lost submit may have created (TTAPI's history) before anything else.

    Resubmit at most once, and only after the grace (counted from when the answer was lost)
    passed with TTAPI's history readable and showing nothing. If the history stays unreadable,
    fail clearly without a resubmit and keep the slot until the job's longest life is over.
    """
    seq, now = rec.poll_seq, rt.clock()
    lost_at = rec.lost_at or rec.sent_at
    try:
        rows = history_since(rt, rec)
    except errors.TTAPIError as exc:
        log.info("job %s: fetch-list failed (%s); will look again", rec.job_id, exc)
        if now - max(lost_at, rec.history_seen_at) > 2 * rt.timing.reconcile_grace_s:
            _give_up(rt, rec, seq, f"TTAPI's job history is unavailable ({exc})")
            return
        _next_look(rt, rec, seq)
        return
    for row_id in candidates(rec, rows):
        if adopt(rt, rec, row_id, seq=seq):
            return
    if now - lost_at < rt.timing.reconcile_grace_s:
        if rt.records.cas(rec.job_id, {"poll_seq": seq}, history_seen_at=now):
            _next_look(rt, rec, seq)
        return
    if rec.ambiguous_resubmits >= AMBIGUOUS_RESUBMITS:
        _give_up(
            rt,
            rec,
            seq,
            "its one resubmit's answer was lost too, and TTAPI's history shows neither",
        )
        return
    # TTAPI's history has no such job after the grace: it was never created. Submit again,
    # once (the slot is kept: acquire is re-entrant).
    if rt.records.cas(
        rec.job_id,
        {"state": AMBIGUOUS, "poll_seq": seq},
        state=WAITING,
        poll_seq=seq + 1,
        ambiguous_resubmits=rec.ambiguous_resubmits + 1,
    ):
        log.warning("job %s: TTAPI never created it; submitting again (once)", rec.job_id)
        rt.guard.renew(rec.account, rec.job_id)
        rt.dispatcher.resume(rec.job_id)


def history_since(rt: Runtime, rec: JobRecord) -> list[JobListItem]:
    """TTAPI's job history (newest first), as many pages as reach back to our send."""
    client = rt.pool.client(rec.account)
    earliest = datetime.fromtimestamp(rec.sent_at, UTC) - CLOCK_SKEW
    rows: list[JobListItem] = []
    for page in range(1, HISTORY_PAGES + 1):
        batch = client.fetch_list(page=page, limit=HISTORY_PAGE_SIZE)
        rows += batch
        oldest = [r.created_at for r in batch if r.created_at]
        if len(batch) < HISTORY_PAGE_SIZE or (oldest and min(oldest) < earliest):
            break
    return rows


def candidates(rec: JobRecord, rows: list[JobListItem]) -> list[str]:
    """TTAPI jobs that may be the one our lost submit made, the nearest to our send first."""
    action = str(rec.params.get("action") or rec.kind)
    prompt = _norm(str(rec.params.get("prompt") or rec.parent.get("prompt") or ""))
    sent = datetime.fromtimestamp(rec.sent_at, UTC)
    found: list[tuple[float, str]] = []
    for row in rows:
        if (row.action or action) != action:
            continue
        if prompt and not _same_prompt(prompt, _norm(row.prompt or "")):
            continue
        if row.created_at and row.created_at < sent - CLOCK_SKEW:
            continue
        gap = abs((row.created_at - sent).total_seconds()) if row.created_at else 1e9
        found.append((gap, row.job_id))
    return [job_id for _, job_id in sorted(found)]


def _give_up(rt: Runtime, rec: JobRecord, seq: int, why: str) -> None:
    """Fail a lost submit without resubmitting; its slot stays until the job's longest life."""
    hold = deadline_for(rt, rec, rec.sent_at or rt.clock())
    until = datetime.fromtimestamp(hold, UTC).strftime("%H:%M:%S UTC")
    fail(
        rt,
        rec,
        f"Submit answer lost: {why}. Not resubmitted, so it is never paid twice; "
        f"if TTAPI did create it, its slot stays reserved until {until}",
        from_states=(AMBIGUOUS,),
        resume_self=True,
        expect={"poll_seq": seq},
        hold_until=hold,
    )


def _norm(prompt: str) -> str:
    return " ".join(prompt.lower().split())


def _same_prompt(ours: str, theirs: str) -> bool:
    """TTAPI may tidy a prompt or append flags (`--v 6.0`) to it: compare leniently."""
    return theirs == ours or theirs.startswith(ours + " ") or ours.startswith(theirs + " ")


def _next_look(rt: Runtime, rec: JobRecord, seq: int) -> None:
    """Look at TTAPI's history again a quarter grace later (at the poll bounds)."""
    if rt.records.cas(rec.job_id, {"poll_seq": seq}, poll_seq=seq + 1):
        rt.guard.renew(rec.account, rec.job_id)
        gap = rt.timing.bounds.clamp(rt.timing.reconcile_grace_s / 4)
        rt.dispatcher.poll(rec.job_id, seq + 1, gap)
