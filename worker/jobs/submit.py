"""The first half of a job's life: record it, get a slot (or park), submit exactly once.

`advance` is what every `mj.*` task runs each time its message is delivered. It never sleeps
and never waits on another task: a job that cannot go on now is *parked* (its Celery task ends
with `Ignore`) and whoever can move it on later re-publishes it through the dispatcher.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from worker.jobs import unsent
from worker.jobs.delivery import claim
from worker.jobs.maintenance import stall_s
from worker.jobs.outcome import Failed, Outcome, Park, Revoked, ended
from worker.jobs.placement import account_for
from worker.jobs.reconcile import adopt, take_claim
from worker.jobs.records import (
    AMBIGUOUS,
    IN_FLIGHT,
    NEW,
    SUBMITTED,
    SUBMITTING,
    TERMINAL,
    WAITING,
    JobRecord,
)
from worker.jobs.revoke import cancel
from worker.jobs.settle import resume_all
from worker.jobs.spec import make_spec, request_for
from worker.jobs.states import show_submitted, show_waiting
from worker.jobs.timing import deadline_for, poll_gap
from worker.runtime import Runtime
from worker.ttapi import errors

log = logging.getLogger(__name__)


def advance(
    rt: Runtime,
    job_id: str,
    kind: str,
    params: dict[str, Any],
    *,
    signature: Callable[[], dict[str, Any]],
    account: str | None = None,
    parent: Any = None,
    expires_at: float = 0.0,
) -> Outcome:
    """Move job `job_id` as far as it can go now; see the module docstring.

    `expires_at` is the task's `expires` (epoch seconds, 0 for none): a job that has not been
    submitted by then is revoked instead, while one TTAPI already runs is always delivered.
    """
    rec = rt.records.load(job_id)
    if rec is None:
        try:
            spec = make_spec(rt, kind, params, account=account, parent=parent)
        except errors.TTAPIError as exc:
            return Failed(exc)
        rec = rt.records.create(
            job_id,
            kind=kind,
            params=spec.params,
            account=spec.account or "",
            pinned=spec.account is not None,
            parent=spec.parent,
            priority=spec.priority,
            poll_seq=0,
            sig=signature(),
            expires_at=expires_at,
        )
    if rec.state in TERMINAL:
        # An ended job stays owed until the caller has stored the outcome (`delivered`, from
        # the task's after_return), so a kill in between loses nothing. One run claims the
        # report; a duplicate or overlapping one ends quietly: returning the result again
        # would fire the chain's callbacks a second time.
        return ended(rec) if claim(rt, job_id, stall_s(rt)) else Park()
    if not rec.sig:
        rt.records.update(job_id, sig=signature())
    if rec.state in IN_FLIGHT:
        return Park()  # another run drives it; it will re-publish us when the job ends
    return _unless_expired(rt, rec)


def take_over(rt: Runtime, job_id: str) -> None:
    """Submit a parked job just handed a slot, in the process that freed the slot.

    The hand-off then costs no message and no second run of the job's task: the task is
    re-published only when the job ends (or ends here: a failure, a revoke), to report it.
    A job that is no longer parked is left to whoever moved it on.
    """
    rec = rt.records.load(job_id)
    if rec is None or rec.state not in (NEW, WAITING):
        return
    if not isinstance(_unless_expired(rt, rec), Park):
        rt.dispatcher.resume(job_id)  # e.g. revoked here (owed already): its task reports it


def _unless_expired(rt: Runtime, rec: JobRecord) -> Outcome:
    """Revoke a job whose `expires` passed before its submit; else take a slot and submit."""
    if rec.expires_at and rt.clock() > rec.expires_at:
        why = "expired before it could be submitted (the task's `expires` passed)"
        return Revoked(why) if cancel(rt, rec, why) else Park()
    return _acquire_and_submit(rt, rec)


def _acquire_and_submit(rt: Runtime, rec: JobRecord) -> Outcome:
    label = account_for(rt, rec)
    if not isinstance(label, str):
        return label
    got = rt.guard.acquire(label, rec.job_id, priority=rec.priority)
    resume_all(rt, got.woken)
    if not got.granted:
        if rec.state == NEW:
            rec.waiting_since = rt.clock()
            if not rt.records.move(
                rec.job_id,
                (NEW,),
                WAITING,
                expect={"account": label},
                waiting_since=rec.waiting_since,
            ):
                return _lost_race(rt, rec.job_id, label)
        if got.cooldown_ms:
            rt.dispatcher.fill(label, got.cooldown_ms / 1000)
        show_waiting(rt, rec, label, got.position)
        return Park()
    # The account is part of the compare-and-set: a run that placed the job elsewhere must
    # never submit it here (its polls would use the other account's key).
    changes: dict[str, Any] = {"sent_at": rt.clock(), "submit_attempts": rec.submit_attempts + 1}
    if not rt.records.move(
        rec.job_id, (NEW, WAITING), SUBMITTING, expect={"account": label}, **changes
    ):
        return _lost_race(rt, rec.job_id, label)
    return submit(rt, replace(rec, state=SUBMITTING, **changes), label)


def _lost_race(rt: Runtime, job_id: str, label: str) -> Outcome:
    """Another run of the job moved it first: give back the place this run took on `label`
    unless the job is still to run there (one slot per job id: it is that run's too)."""
    fresh = rt.records.load(job_id)
    if fresh is None or fresh.account != label or fresh.state in TERMINAL:
        resume_all(rt, rt.guard.release(label, job_id))
    return Park()


def hook_url(rt: Runtime, rec: JobRecord) -> str | None:
    """The job's callback URL under MJ_HOOK_BASE_URL, with an unguessable per-job token."""
    base = rt.settings.mj_hook_base_url
    if not base:
        return None
    token = rec.hook_token
    if not token:
        token = secrets.token_urlsafe(24)
        rt.records.update(rec.job_id, hook_token=token)
        rt.redis.set(rt.keys.hook(token), rec.job_id, ex=rt.settings.mj_record_ttl_s)
        rec.hook_token = token
    return f"{base}/hook/{token}"


def submit(rt: Runtime, rec: JobRecord, label: str) -> Outcome:
    """POST the job (state SUBMITTING, slot held) and act on every possible answer."""
    try:
        request = request_for(rec.kind, rec.params, rec.parent.get("job_id", ""), hook_url(rt, rec))
        answer = rt.pool.client(label).submit(request)
    except (errors.QueueFull, errors.RateLimited) as exc:
        return unsent.refused(rt, rec, label, exc)
    except (errors.Unauthorized, errors.InsufficientBalance) as exc:
        return unsent.account_refused(rt, rec, label, exc)
    except errors.TTAPIError as exc:
        lost = exc.may_have_created
        return (unsent.answer_lost if lost else unsent.not_created)(rt, rec, exc)
    return _submitted(rt, rec, label, answer.job_id)


def _submitted(rt: Runtime, rec: JobRecord, label: str, ttapi_job_id: str) -> Outcome:
    """TTAPI created `ttapi_job_id` for us: claim it, record it, start polling."""
    # Claim the TTAPI job first, so no look-alike record can take it. The submit's own answer
    # is first-hand proof: a record that adopted this job from TTAPI's history (its own submit
    # looked the same, and its answer was lost) gives it back and reconciles again.
    take_claim(rt, rec.job_id, ttapi_job_id)
    now = rt.clock()
    fresh_start: dict[str, Any] = {
        "submitted_at_ts": now,
        "progress": 0,
        "prev_progress": 0,
        "prev_progress_at": 0,
    }
    gap = poll_gap(rt, replace(rec, **fresh_start), now)
    running = rt.records.moved(
        rec,
        SUBMITTING,
        SUBMITTED,
        ttapi_job_id=ttapi_job_id,
        deadline=deadline_for(rt, rec, now),
        poll_seq=rec.poll_seq + 1,
        last_poll_at=now,
        next_poll_at=now + gap,
        **fresh_start,
    )
    if running is None:
        # The pump took the submit for lost while it was still under way: we hold the proof.
        fresh = rt.records.load(rec.job_id)
        if fresh is None or fresh.state != AMBIGUOUS or not adopt(rt, fresh, ttapi_job_id):
            log.error("job %s: state changed during submit; TTAPI job %s", rec.job_id, ttapi_job_id)
        return Park()
    # No lease renewal: the slot was granted (or renewed by `acquire`) just before the POST.
    if rt.guard.accepted(label, rec.job_id):  # a probe got through: one more may follow now
        resume_all(rt, rt.guard.fill(label))
    show_submitted(rt, running)
    rt.dispatcher.poll(running.job_id, running.poll_seq, gap, label)
    return Park()


__all__ = ["advance", "hook_url", "submit", "take_over"]
