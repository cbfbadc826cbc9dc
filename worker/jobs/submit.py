"""Submit a job the engine handed a slot: exactly once, with every possible answer acted on.

The entry (`worker.jobs.entry`) only queues a job for its account; the engine holding that
account hands slots out (`SlotGuard.fill`) and calls `take_over` for each job handed one,
side by side in its pool of threads, so one slow answer never delays another submit. What
follows the submit (the first poll, the SUBMITTED state, a report) is returned as effects.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import replace
from typing import Any

from worker.jobs import claims, durable, journal, offers, skew, unsent
from worker.jobs.effects import Effects, Failed, PollAt, Report
from worker.jobs.placement import account_for
from worker.jobs.reconcile import adopt
from worker.jobs.record import TERMINAL, UNSENT, RecordState
from worker.jobs.records import CLAIMED_BY_ANOTHER, JobRecord
from worker.jobs.revoke import cancel
from worker.jobs.runtime import Runtime
from worker.jobs.settle import hand_on
from worker.jobs.spec import request_for
from worker.jobs.states import show_submitted
from worker.jobs.timing import poll_gap
from worker.ttapi import errors

log = logging.getLogger(__name__)
EXPIRED = "expired before it could be submitted (the task's `expires` passed)"


def take_over(rt: Runtime, label: str, job_id: str) -> Effects:
    """Submit job `job_id`, just handed a slot on `label`, unless it moved on meanwhile.

    A job revoked or expired meanwhile gives the slot back; one whose account left rotation
    goes to another account's line. A job that ends here (revoked, failed) is reported by
    its task, re-published; a job submitted is polled by the engine from here on.
    """
    rec = rt.records.load(job_id)
    if rec is None or rec.state not in UNSENT or rec.account != label:
        return _give_back(rt, label, job_id, rec)
    if rec.expires_at and rt.clock() > rec.expires_at:
        revoked, fx = cancel(rt, rec, EXPIRED)
        return [Report.end(job_id, rec.sig), *fx] if revoked else fx  # owed: reports REVOKED
    placed, fx = account_for(rt, rec)
    if placed == label:
        return fx + _send(rt, rec, label)
    if isinstance(placed, str):  # moved off an account out of rotation: wait in its line
        return fx + offers.enqueue(rt, rec, placed)[1]
    if isinstance(placed, Failed):  # failed here (a pinned account left rotation)
        return [Report.end(job_id, rec.sig), *fx]
    return fx


def _give_back(rt: Runtime, label: str, job_id: str, rec: JobRecord | None) -> Effects:
    """A job handed a slot on `label` that is not to be sent from it: the slot goes on, unless
    the job still runs there (one slot per job id, another run drives it)."""
    if rec is None or rec.account != label or rec.state in TERMINAL:
        return hand_on(rt, label, rt.guard.release(label, job_id))
    return []


def _send(rt: Runtime, rec: JobRecord, label: str) -> Effects:
    """Mark the job SUBMITTING (this attempt: its send time, its number, its hook token) and
    send it, unless this engine lost the account meanwhile."""
    # The POST is over (sent and answered, or abandoned) within the HTTP timeouts of this
    # moment: the engine takes the submit for lost only after those and a stall more.
    deadline = time.monotonic() + rt.timing.submit_limit_s
    # The account is part of the compare-and-set: a run that placed the job elsewhere must
    # never submit it here (its polls would use the other account's key).
    changes: dict[str, Any] = {"sent_at": rt.clock(), "submit_attempts": rec.submit_attempts + 1}
    token = _new_hook_token(rt, rec)
    if token:  # issued here, in the same compare-and-set: no write is left before the POST
        changes["hook_token"] = token
    intent = durable.submitting(rt, rec, label, changes)  # with a WAIT for the replicas
    if not intent.moved:
        return _give_back(rt, label, rec.job_id, rt.records.load(rec.job_id))
    if not intent.durable:  # a failover now would forget it: not sent, first in line
        return durable.not_durable(rt, rec, label, intent, changes["sent_at"])
    return submit(rt, replace(rec, state=RecordState.SUBMITTING, **changes), label, deadline)


def _new_hook_token(rt: Runtime, rec: JobRecord) -> str:
    """A hook token for a job that has none yet (with MJ_HOOK_BASE_URL), its lookup key
    written now; "" when the job keeps its own or webhooks are off."""
    if not rt.settings.mj_hook_base_url or rec.hook_token:
        return ""
    token = secrets.token_urlsafe(24)
    rt.redis.set(rt.keys.hook(token), rec.job_id, ex=rt.settings.mj_record_ttl_s)
    return token


def _not_sent(rt: Runtime, rec: JobRecord, label: str) -> Effects:
    """This engine lost the account (it stalled past its lease) after marking the job
    SUBMITTING: the account's new engine may already take this submit for lost. Send nothing;
    the job waits again (unless the new engine moved it on)."""
    rt.records.move(
        rec.job_id, RecordState.SUBMITTING, RecordState.WAITING, expect={"sent_at": rec.sent_at}
    )
    log.warning("job %s: not sent, this engine no longer holds %s", rec.job_id, label)
    return []


def hook_url(rt: Runtime, rec: JobRecord) -> str | None:
    """The job's callback URL under MJ_HOOK_BASE_URL, issuing its unguessable per-job token if
    it has none (a submit issues it in its SUBMITTING compare-and-set instead)."""
    base = rt.settings.mj_hook_base_url
    if not base:
        return None
    if not rec.hook_token:
        token = _new_hook_token(rt, rec)
        rt.records.update(rec.job_id, hook_token=token)
        rec.hook_token = token
    return f"{base}/hook/{rec.hook_token}"


def submit(rt: Runtime, rec: JobRecord, label: str, deadline: float | None = None) -> Effects:
    """POST the job (state SUBMITTING, slot held, hook token issued) and act on every possible
    answer; the POST is over by `deadline` (monotonic)."""
    try:
        base = rt.settings.mj_hook_base_url
        hook = f"{base}/hook/{rec.hook_token}" if base and rec.hook_token else None
        request = request_for(rec.kind, rec.params, rec.parent.get("job_id", ""), hook)
        # The lease, checked last: nothing that can block (no Redis call) until the POST.
        if not rt.holdings.holds(label):
            return _not_sent(rt, rec, label)
        answer = rt.pool.client(label).submit(request, deadline=deadline)
    except (errors.QueueFull, errors.RateLimited) as exc:
        return unsent.refused(rt, rec, label, exc)
    except (errors.Unauthorized, errors.InsufficientBalance) as exc:
        return unsent.account_refused(rt, rec, label, exc)
    except errors.TTAPIError as exc:
        if exc.may_have_created:
            return unsent.answer_lost(rt, rec, exc)
        return unsent.not_created(rt, rec, label, exc)
    now = rt.clock()  # the answer came
    return _submitted(rt, rec, label, answer.job_id, now, answer.answered_at)


def _submitted(
    rt: Runtime,
    rec: JobRecord,
    label: str,
    ttapi_job_id: str,
    now: float,
    answered_at: float | None,
) -> Effects:
    """TTAPI created `ttapi_job_id` for us (its answer came at `now`, dated `answered_at` by
    TTAPI's clock): claim it, record it, start polling; the claim, the clock skew it taught,
    the record's move and the read of a callback that came meanwhile are one script call."""
    learned = skew.learned(answered_at, rec.sent_at, now)
    claim = claims.note(rt, ttapi_job_id, label, learned)
    fresh_start: dict[str, Any] = {
        "submitted_at_ts": now,
        "progress": 0,
        "prev_progress": 0,
        "prev_progress_at": 0,
    }
    gap = poll_gap(rt.timing, rt.durations, replace(rec, **fresh_start), now)
    started = {
        "ttapi_job_id": ttapi_job_id,
        "deadline": rt.timing.deadline(rec, now),
        "poll_seq": rec.poll_seq + 1,
        "last_poll_at": now,
        "next_poll_at": now + gap,
        **fresh_start,
    }
    # Only onto the attempt that sent it: a late answer must never take over a later attempt.
    this_attempt = {
        "state": RecordState.SUBMITTING,
        "sent_at": rec.sent_at,
        "submit_attempts": rec.submit_attempts,
    }
    # The claim goes first, so no look-alike record can take the TTAPI job. If one already did
    # (its own submit looked the same, its answer was lost, and it found this job in TTAPI's
    # history), it keeps it, finished or not: this record looks for the look-alike's job
    # instead, as if its own answer was lost. One TTAPI job, one record, ever.
    hooks = rt.timing.hook_poll_s is not None
    moved, hooked, probe = rt.records.move_claimed(
        rec.job_id,
        this_attempt,
        claim,
        read_hooked=hooks,
        accepted=rt.guard.accepted_keys(label),
        state=RecordState.SUBMITTED,
        **started,
    )
    if moved == CLAIMED_BY_ANOTHER:
        return _taken(rt, rec, ttapi_job_id)
    if moved != 1:
        return _answered_late(rt, rec, label, ttapi_job_id)
    running = replace(rec, state=RecordState.SUBMITTED, **started)
    if hooked == ttapi_job_id:
        gap = rt.timing.bounds.min_s  # its callback came during the submit: fetch it now
    # No lease renewal: the slot was granted just before the POST.
    fx: Effects = []
    if probe:  # a probe got through (the guard learned it in the move): one more may follow now
        fx = hand_on(rt, label, rt.guard.fill(label))
    journal.submitted(running, label, ttapi_job_id)
    shown = show_submitted(running, first=True)
    # The first poll starts from this record, unless callbacks end jobs: then it is a safety
    # poll a while later, which reads the record first (a callback may have ended the job).
    known = None if hooks else running
    return [*fx, shown, PollAt(running.job_id, running.poll_seq, gap, label, known=known)]


def _taken(rt: Runtime, rec: JobRecord, ttapi_job_id: str) -> Effects:
    """The job this submit made was adopted by a look-alike record: reconcile, as for a lost
    answer (the look-alike's own job, if its submit made one, is in TTAPI's history)."""
    now = rt.clock()
    if not rt.records.move(
        rec.job_id,
        RecordState.SUBMITTING,
        RecordState.AMBIGUOUS,
        expect={"sent_at": rec.sent_at},
        **unsent.lost(rt, rec, now),
        last_error=f"TTAPI job {ttapi_job_id} was taken by job {claims.owner(rt, ttapi_job_id)}",
    ):
        return []
    log.warning(
        "job %s: its TTAPI job %s was adopted by a look-alike; looking for that one's",
        rec.job_id,
        ttapi_job_id,
    )
    return [PollAt(rec.job_id, rec.poll_seq + 1, rt.timing.bounds.min_s, rec.account)]


def _answered_late(rt: Runtime, rec: JobRecord, label: str, ttapi_job_id: str) -> Effects:
    """The attempt that made `ttapi_job_id` was taken for lost while its answer was on the way.
    A record still looking for its job takes it (first-hand proof); otherwise the job is paid
    for and no record can track it (a later attempt replaced this one): see `claims.untracked`.
    """
    fresh = rt.records.load(rec.job_id)
    if fresh is None or fresh.ttapi_job_id == ttapi_job_id:
        return []
    if fresh.state == RecordState.AMBIGUOUS and not fresh.ttapi_job_id:  # still looking for it
        adopted, fx = adopt(rt, fresh, ttapi_job_id)
        if adopted:
            return fx
    return claims.untracked(rt, fresh, label, ttapi_job_id)


__all__ = ["EXPIRED", "hook_url", "submit", "take_over"]
