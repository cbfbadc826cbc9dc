"""A submit whose answer was lost (a 5xx, a timeout, a reset): find the job it made, or not.

The job stays AMBIGUOUS, holding its slot, while TTAPI's history is searched for it; a webhook
callback is proof too (`adopt`). It is resubmitted, each time only after the grace passed with
the history readable and showing nothing, until the deadline its loss set (the sent job's
longest life at TTAPI). If the history stays unreadable for a grace, it fails clearly, never
resubmitted; TTAPI may run it, so its slot becomes occupancy that a probe TTAPI accepts gives
back.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from worker.jobs import claims, skew
from worker.jobs.effects import Effects, PollAt, Submit
from worker.jobs.record import RecordState
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.jobs.settle import fail
from worker.jobs.states import show_submitted
from worker.jobs.timing import poll_gap
from worker.policy import (
    HISTORY_FAILURES,
    HISTORY_PAGE_SIZE,
    HISTORY_PAGES,
    LOST_RESUBMITS_AT_LEAST,
    RECONCILE_LOOKS_PER_GRACE,
)
from worker.ttapi import errors
from worker.ttapi.kinds import ttapi_action
from worker.ttapi.responses import JobListItem

log = logging.getLogger(__name__)


def adopt(
    rt: Runtime,
    rec: JobRecord,
    ttapi_job_id: str,
    *,
    seq: int | None = None,
    now_poll: bool = False,
) -> tuple[bool, Effects]:
    """Make an AMBIGUOUS record track `ttapi_job_id`, found to be the job its lost submit made.

    The claim (`worker.jobs.claims`: one TTAPI job, one record, ever) keeps two of our records
    from taking one TTAPI job.
    `seq` pins the poll step that found it; without it (a callback) any step will do. With
    `now_poll` (a callback said how it went, and was not kept) it is fetched at once.
    """
    if not claims.claim(rt, rec.job_id, ttapi_job_id):
        return False, []  # another of our jobs owns it (its submit said so, or adopted it first)
    expect: dict[str, object] = {"state": RecordState.AMBIGUOUS}
    if seq is not None:
        expect["poll_seq"] = seq
    next_seq = (rec.poll_seq if seq is None else seq) + 1
    now = rt.clock()
    started = rec.sent_at or now
    if not rt.records.cas(
        rec.job_id,
        expect,
        state=RecordState.SUBMITTED,
        ttapi_job_id=ttapi_job_id,
        submitted_at_ts=started,
        deadline=rt.timing.deadline(rec, started),
        poll_seq=next_seq,
        last_poll_at=now,
    ):
        return False, []
    log.warning("job %s: lost submit found at TTAPI as %s", rec.job_id, ttapi_job_id)
    # Not the answer a probe waits for: the adopted job may be a look-alike's (see claims).
    rt.guard.renew(rec.account, rec.job_id, confirms=False)
    fresh = rt.records.load(rec.job_id)
    if fresh is None:
        return True, []
    gap = rt.timing.bounds.min_s if now_poll else None
    return True, [show_submitted(fresh, first=True), schedule_poll(rt, fresh, next_seq, gap=gap)]


def schedule_poll(
    rt: Runtime, rec: JobRecord, seq: int, *, errors_in_row: int = 0, gap: float | None = None
) -> PollAt:
    """Fetch number `seq` of a job at `gap`, else at the gap the polling policy chooses (noted
    on the record: a scan that finds it unscheduled schedules it then)."""
    now = rt.clock()
    if gap is None:
        gap = poll_gap(rt.timing, rt.durations, rec, now, errors_in_row=errors_in_row)
    rt.records.update(rec.job_id, next_poll_at=now + gap)
    return PollAt(rec.job_id, seq, gap, rec.account)


def reconcile(rt: Runtime, rec: JobRecord) -> Effects:
    """Find the job a lost submit may have created (TTAPI's history) before anything else.

    Resubmit, each time only after the grace (counted from when the answer was lost) passed
    with TTAPI's history readable and showing nothing, until the job's deadline. If the
    history stays unreadable for a grace, fail clearly without a resubmit; TTAPI may run the
    job, so its slot becomes occupancy that a probe clears (not a slot locked for the job's
    longest life).
    """
    seq, now = rec.poll_seq, rt.clock()
    lost_at = rec.lost_at or rec.sent_at
    if rec.hooked_job_id:  # a callback came while the submit was under way: first-hand proof
        adopted, fx = adopt(rt, rec, rec.hooked_job_id, seq=seq, now_poll=True)
        if adopted:
            return fx
    try:
        rows = history_since(rt, rec)
    except errors.RateLimited as exc:
        # A 429 proves TTAPI answers: the history is throttled, not unavailable. Look again
        # later without counting it (the job's deadline still bounds the search).
        if now > rec.deadline > 0:
            why = f"TTAPI's job history stayed throttled ({exc})"
            return _give_up(rt, rec, seq, why, blind=True)
        log.info("job %s: fetch-list throttled (%s); will look again", rec.job_id, exc)
        return _next_look(rt, rec, seq, at_least=rt.timing.retry_after(exc.retry_after))
    except errors.TTAPIError as exc:
        # Unavailable means failing for a whole grace and HISTORY_FAILURES reads in a row that
        # say nothing (5xx, timeouts): one now and then only delays the next look.
        log.info("job %s: fetch-list failed (%s); will look again", rec.job_id, exc)
        failures = rec.fetch_errors + 1
        if failures >= HISTORY_FAILURES and (
            now - max(lost_at, rec.history_seen_at) >= rt.timing.reconcile_grace_s
        ):
            why = f"TTAPI's job history is unavailable ({exc})"
            return _give_up(rt, rec, seq, why, blind=True)
        return _next_look(rt, rec, seq, fetch_errors=failures)
    for row_id in candidates(rec, rows, *skew.window(rt, rec)):
        adopted, fx = adopt(rt, rec, row_id, seq=seq)
        if adopted:
            return fx
    if now - lost_at < rt.timing.reconcile_grace_s:
        return _next_look(rt, rec, seq, history_seen_at=now, fetch_errors=0)
    # (A record lost before deadlines were set on a loss: its send's.) The deadline bounds a
    # storm, not the first tries: a loss found late (its sender died before the POST, and the
    # scan came after the send's deadline) is still sent, since the history proves nothing was.
    past = now > (rec.deadline or rt.timing.deadline(rec, rec.sent_at or lost_at))
    if past and rec.ambiguous_resubmits >= LOST_RESUBMITS_AT_LEAST:
        return _give_up(
            rt,
            rec,
            seq,
            f"the answers of its {rec.ambiguous_resubmits + 1} submits were lost, and TTAPI's "
            "history, readable, showed none of them by its deadline",
            blind=False,
        )
    # TTAPI's history has no such job after the grace: it was never created. Submit again
    # (the job keeps its slot and its deadline): a storm of 5xx never ends a job before its
    # deadline while the history answers and shows nothing.
    if not rt.records.cas(
        rec.job_id,
        {"state": RecordState.AMBIGUOUS, "poll_seq": seq},
        state=RecordState.WAITING,
        poll_seq=seq + 1,
        ambiguous_resubmits=rec.ambiguous_resubmits + 1,
    ):
        return []
    log.warning(
        "job %s: TTAPI never created it; submitting again (resubmit %s, until %.0f s from now)",
        rec.job_id,
        rec.ambiguous_resubmits + 1,
        rec.deadline - now,
    )
    rt.guard.renew(rec.account, rec.job_id, confirms=False)
    return [Submit(rec.account, rec.job_id)]  # its slot kept: the engine's timers submit it


def history_since(rt: Runtime, rec: JobRecord) -> list[JobListItem]:
    """TTAPI's job history (newest first), as many pages as reach back to our send."""
    client = rt.pool.client(rec.account)
    earliest = datetime.fromtimestamp(skew.window(rt, rec)[1], UTC)
    rows: list[JobListItem] = []
    for page in range(1, HISTORY_PAGES + 1):
        batch = client.fetch_list(page=page, limit=HISTORY_PAGE_SIZE)
        rows += batch
        oldest = [r.created_at for r in batch if r.created_at]
        if len(batch) < HISTORY_PAGE_SIZE or (oldest and min(oldest) < earliest):
            break
    return rows


def candidates(
    rec: JobRecord, rows: list[JobListItem], expected: float, earliest: float
) -> list[str]:
    """TTAPI jobs that may be the one our lost submit made, dated from `earliest` on (TTAPI's
    clock, epoch seconds), the nearest to `expected` (when TTAPI dated our send) first."""
    action = ttapi_action(rec.kind, rec.params)  # e.g. an edit's type: `retexture`
    prompt = _norm(str(rec.params.get("prompt") or rec.parent.get("prompt") or ""))
    sent = datetime.fromtimestamp(expected, UTC)
    oldest = datetime.fromtimestamp(earliest, UTC)
    found: list[tuple[float, str]] = []
    for row in rows:
        if (row.action or action) != action:
            continue
        if prompt and not _same_prompt(prompt, _norm(row.prompt or "")):
            continue
        if row.created_at and row.created_at < oldest:
            continue
        gap = abs((row.created_at - sent).total_seconds()) if row.created_at else 1e9
        found.append((gap, row.job_id))
    return [job_id for _, job_id in sorted(found)]


def _give_up(rt: Runtime, rec: JobRecord, seq: int, why: str, *, blind: bool) -> Effects:
    """Fail a lost submit without resubmitting. `blind`: TTAPI's history could not be read, so
    TTAPI may run the job until its longest life is over: its slot becomes occupancy (a probe
    TTAPI accepts clears it). Otherwise the history showed no such job: the slot is free."""
    life = rt.timing.deadline(rec, rec.sent_at or rt.clock()) - rt.clock()
    said = f" ({rec.last_error})" if rec.last_error else ""
    if blind:
        tail = "; if TTAPI did create it, it counts against the account's cap until a probe "
        tail += "finds its place free"
    else:
        tail = ""
    return fail(
        rt,
        rec,
        f"Submit answer lost{said}: {why}. Not resubmitted, so it is never paid twice{tail}",
        from_states=(RecordState.AMBIGUOUS,),
        resume_self=True,
        expect={"poll_seq": seq},
        occupy_s=max(life, rt.timing.cooldown_s) if blind else 0.0,
    )[1]


def _norm(prompt: str) -> str:
    return " ".join(prompt.lower().split())


def _same_prompt(ours: str, theirs: str) -> bool:
    """TTAPI may tidy a prompt or append flags (`--v 6.0`) to it: compare leniently."""
    return theirs == ours or theirs.startswith(ours + " ") or ours.startswith(theirs + " ")


def _next_look(
    rt: Runtime, rec: JobRecord, seq: int, at_least: float = 0.0, **changes: object
) -> Effects:
    """Look at TTAPI's history again a quarter grace later (at the poll bounds), or later
    still when TTAPI asked for it (`at_least`, from a 429's Retry-After)."""
    if not rt.records.cas(rec.job_id, {"poll_seq": seq}, poll_seq=seq + 1, **changes):
        return []
    rt.guard.renew(rec.account, rec.job_id, confirms=False)
    gap = rt.timing.bounds.clamp(rt.timing.reconcile_grace_s / RECONCILE_LOOKS_PER_GRACE)
    return [PollAt(rec.job_id, seq + 1, max(gap, at_least), rec.account)]
