"""The first half of a job's life: record it, get a slot (or park), submit exactly once.

`advance` is what every `mj.*` task runs each time its message is delivered. It never sleeps
and never waits on another task: a job that cannot go on now is *parked* (its Celery task ends
with `Ignore`) and whoever can move it on later re-publishes it through the dispatcher.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from worker import errors, metrics
from worker.accounts import NoAccountLeft
from worker.completion import deadline_for, schedule_poll
from worker.jobs import make_spec, request_for
from worker.records import (
    AMBIGUOUS,
    FAILED,
    IN_FLIGHT,
    NEW,
    SUBMITTED,
    SUBMITTING,
    SUCCESS,
    WAITING,
    JobRecord,
)
from worker.runtime import Runtime
from worker.settle import fail, resume_all

log = logging.getLogger(__name__)
MAX_SUBMIT_ATTEMPTS = 3


@dataclass(frozen=True)
class Park:
    """The task ends now without a result; someone re-publishes it later."""


@dataclass(frozen=True)
class Done:
    """The job finished: the task returns this result (and its chain goes on)."""

    result: dict[str, Any]


@dataclass(frozen=True)
class Failed:
    """The job ended in failure: the task raises this exception."""

    error: errors.TTAPIError


Outcome = Park | Done | Failed


def advance(rt: Runtime, job_id: str, kind: str, params: dict[str, Any], *,
            signature: Callable[[], dict[str, Any]], account: str | None = None,
            parent: Any = None) -> Outcome:
    """Move job `job_id` as far as it can go now; see the module docstring."""
    rec = rt.records.load(job_id)
    if rec is None:
        try:
            spec = make_spec(rt, kind, params, account=account, parent=parent)
        except errors.TTAPIError as exc:
            return Failed(exc)
        rec = rt.records.create(
            job_id, kind=kind, params=spec.params, account=spec.account or "",
            pinned=spec.account is not None, parent=spec.parent, priority=spec.priority,
            poll_seq=0, sig=signature())
    # An ended job stays in `mj:undelivered` until the caller has stored the outcome
    # (`settle.delivered`, from the task's after_return), so a kill in between loses nothing.
    if rec.state == SUCCESS:
        return Done(rec.result)
    if rec.state == FAILED:
        return Failed(errors.JobFailed(rec.error))
    if not rec.sig:
        rt.records.update(job_id, sig=signature())
    if rec.state in IN_FLIGHT:
        return Park()  # another run drives it; it will re-publish us when the job ends
    return _acquire_and_submit(rt, rec)


def _acquire_and_submit(rt: Runtime, rec: JobRecord) -> Outcome:
    label = _account_for(rt, rec)
    if isinstance(label, Failed):
        return label
    got = rt.guard.acquire(label, rec.job_id, priority=rec.priority)
    resume_all(rt, got.woken)
    if not got.granted:
        rt.records.move(rec.job_id, (NEW,), WAITING)
        if got.cooldown_ms:
            rt.dispatcher.fill(label, got.cooldown_ms / 1000)
        return Park()
    sent_at, attempts = rt.clock(), rec.submit_attempts + 1
    if not rt.records.move(rec.job_id, (NEW, WAITING), SUBMITTING, sent_at=sent_at,
                           submit_attempts=attempts):
        return Park()
    return submit(rt, replace(rec, state=SUBMITTING, sent_at=sent_at, submit_attempts=attempts),
                  label)


def _account_for(rt: Runtime, rec: JobRecord) -> str | Failed:
    """The job's account: pinned, parent's, or chosen now; moved off an account out of rotation."""
    if rec.account:
        reason = rt.pool.disabled_reason(rec.account)
        if reason is None:
            return rec.account
        if rec.pinned:
            return _fail_now(rt, rec, f"account {rec.account} is out of rotation ({reason})")
        resume_all(rt, rt.guard.release(rec.account, rec.job_id))
    try:
        label = rt.pool.choose()
    except NoAccountLeft as exc:
        return _fail_now(rt, rec, str(exc))
    rt.records.update(rec.job_id, account=label)
    rec.account = label
    return label


def _fail_now(rt: Runtime, rec: JobRecord, message: str) -> Failed:
    fail(rt, rec, message, from_states=(NEW, WAITING, SUBMITTING))
    return Failed(errors.JobFailed(message))


def hook_url(rt: Runtime, rec: JobRecord) -> str | None:
    """The job's callback URL under MJ_HOOK_BASE_URL, with an unguessable per-job token."""
    base = rt.settings.mj_hook_base_url
    if not base:
        return None
    token = rec.hook_token
    if not token:
        token = secrets.token_urlsafe(24)
        rt.records.update(rec.job_id, hook_token=token)
        rt.redis.set(f"mj:hook:{token}", rec.job_id, ex=rt.settings.mj_record_ttl_s)
        rec.hook_token = token
    return f"{base}/hook/{token}"


def submit(rt: Runtime, rec: JobRecord, label: str) -> Outcome:
    """POST the job (state SUBMITTING, slot held) and act on every possible answer."""
    client = rt.pool.client(label)
    try:
        request = request_for(rec.kind, rec.params, rec.parent.get("job_id", ""),
                              hook_url(rt, rec))
        answer = client.submit(request)
    except (errors.QueueFull, errors.RateLimited) as exc:
        # Not created. Someone else uses this key, or we are too fast: wait, keep our place.
        # Refusals in a row double the account's cooldown (up to 64×); a success resets it.
        streak = int(rt.redis.incr(_refusals_key(label)))
        rt.redis.expire(_refusals_key(label), 3600)
        cooldown = max(rt.timing.cooldown_s * 2 ** min(streak - 1, 6),
                       getattr(exc, "retry_after", None) or 0.0)
        rt.records.move(rec.job_id, SUBMITTING, WAITING, submit_attempts=_not_counted(rec))
        rt.guard.backoff(label, rec.job_id, cooldown)
        metrics.count(rt.redis, label, exc.status_code or 0)
        rt.dispatcher.fill(label, cooldown)
        log.warning("job %s: %s %s on %s; retry in %.2fs", rec.job_id, exc.status_code,
                    exc.message, label, cooldown)
        return Park()
    except (errors.Unauthorized, errors.InsufficientBalance) as exc:
        rt.pool.disable(label, exc.status_code or 0, exc.message)
        rt.records.move(rec.job_id, SUBMITTING, WAITING, submit_attempts=_not_counted(rec))
        if rec.pinned:
            # TTAPI's words first, unchanged; the caller also learns which account refused.
            message = f"{exc.message} (account {label}, HTTP {exc.status_code})"
            fail(rt, rec, message, from_states=(WAITING,))
            return Failed(type(exc)(message))
        resume_all(rt, rt.guard.release(label, rec.job_id))
        _move_waiters(rt, label)
        rt.dispatcher.resume(rec.job_id)
        return Park()
    except errors.TTAPIError as exc:
        if exc.may_have_created:
            rt.records.move(rec.job_id, SUBMITTING, AMBIGUOUS, poll_seq=rec.poll_seq + 1)
            log.warning("job %s: submit answer lost (%s); reconciling via fetch-list",
                        rec.job_id, exc)
            rt.dispatcher.poll(rec.job_id, rec.poll_seq + 1, rt.timing.bounds.min_s)
            return Park()
        retryable = isinstance(exc, errors.ServerError | errors.RequestError)
        if retryable and rec.submit_attempts < MAX_SUBMIT_ATTEMPTS:
            rt.records.move(rec.job_id, SUBMITTING, WAITING)  # keeps its slot: acquire re-enters
            delay = rt.timing.submit_retry_s * 2 ** rec.submit_attempts
            rt.dispatcher.resume(rec.job_id, delay)
            log.warning("job %s: submit failed (%s); retry %s in %.2fs",
                        rec.job_id, exc, rec.submit_attempts, delay)
            return Park()
        fail(rt, rec, exc.message, from_states=(SUBMITTING,))
        return Failed(type(exc)(exc.message))
    # Claim the TTAPI job first, so that no reconcile of a look-alike job can take it.
    rt.redis.set(f"mj:claim:{answer.job_id}", rec.job_id, ex=86400)
    rt.redis.delete(_refusals_key(label))
    now = rt.clock()
    deadline = deadline_for(rt, rec, now)
    seq = rec.poll_seq + 1
    if not rt.records.move(rec.job_id, SUBMITTING, SUBMITTED, ttapi_job_id=answer.job_id,
                           submitted_at_ts=now, deadline=deadline, poll_seq=seq,
                           last_poll_at=now, progress=0):
        log.error("job %s: state changed during submit; TTAPI job %s", rec.job_id, answer.job_id)
        return Park()
    rt.guard.renew(label, rec.job_id)
    rec = replace(rec, state=SUBMITTED, ttapi_job_id=answer.job_id, submitted_at_ts=now,
                  deadline=deadline, poll_seq=seq, last_poll_at=now, progress=0)
    schedule_poll(rt, rec, seq)
    return Park()


def _not_counted(rec: JobRecord) -> int:
    """Submit attempts without the last one: a refusal that created nothing is no failure."""
    return max(rec.submit_attempts - 1, 0)


def _refusals_key(label: str) -> str:
    return f"mj:{{{label}}}:refusals"


def _move_waiters(rt: Runtime, label: str) -> None:
    """Re-publish everyone queued on an account that left rotation, so they go elsewhere."""
    for job_id in rt.guard.state(label).waiters:
        rt.guard.release(label, job_id)
        rt.dispatcher.resume(job_id)


__all__ = ["Done", "Failed", "Outcome", "Park", "advance", "submit"]
