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
from worker.jobs.outcome import Failed, Outcome, Park, Revoked, ended
from worker.jobs.placement import account_for
from worker.jobs.reconcile import adopt
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
from worker.jobs.settle import owe_delivery, owed, resume_all
from worker.jobs.spec import make_spec, request_for
from worker.jobs.states import show_submitted, show_waiting
from worker.jobs.timing import deadline_for, poll_gap
from worker.keys import CLAIM_TTL_S
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
        # An ended job stays in `mj:undelivered` until the caller has stored the outcome
        # (`settle.delivered`, from the task's after_return), so a kill in between loses
        # nothing. Once stored, a duplicate message ends quietly: returning the result again
        # would fire the chain's callbacks a second time.
        return ended(rec) if owed(rt, job_id) else Park()
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
        owe_delivery(rt, job_id, rt.clock())  # e.g. revoked here: only its task can say so
        rt.dispatcher.resume(job_id)


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
            rt.records.move(rec.job_id, (NEW,), WAITING, waiting_since=rec.waiting_since)
        if got.cooldown_ms:
            rt.dispatcher.fill(label, got.cooldown_ms / 1000)
        show_waiting(rt, rec, label, got.position)
        return Park()
    sending = rt.records.moved(
        rec, (NEW, WAITING), SUBMITTING, sent_at=rt.clock(), submit_attempts=rec.submit_attempts + 1
    )
    return submit(rt, sending, label) if sending else Park()


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
    # Claim the TTAPI job first (NX, like reconcile's), so no look-alike record can take it.
    claim = rt.keys.claim(ttapi_job_id)
    if not rt.redis.set(claim, rec.job_id, ex=CLAIM_TTL_S, nx=True):
        owner = rt.redis.get(claim)
        if owner != rec.job_id:
            log.error(
                "job %s: TTAPI job %s, which its submit created, was claimed by job %s",
                rec.job_id,
                ttapi_job_id,
                owner,
            )
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
