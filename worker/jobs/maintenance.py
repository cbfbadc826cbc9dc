"""Periodic safety nets: the pump (lost wake-ups, stalled polls, undelivered results) and /info.

Nothing here is on the hot path: releases wake waiters at once and polls re-schedule
themselves. The pump only repairs what a killed process or a lost message left behind.
"""

from __future__ import annotations

import logging

from worker.capacity.leases import Lease, new_token
from worker.jobs.poll import orphan
from worker.jobs.records import (
    AMBIGUOUS,
    NEW,
    SUBMITTED,
    SUBMITTING,
    TERMINAL,
    WAITING,
    JobRecord,
)
from worker.jobs.settle import wake
from worker.runtime import Runtime
from worker.ttapi import errors

log = logging.getLogger(__name__)


def stall_s(rt: Runtime) -> float:
    """How late a step may be before the pump treats it as lost."""
    return max(4 * rt.timing.bounds.max_s, 2 * rt.settings.mj_pump_interval_s, 2.0)


def sweep_s(rt: Runtime) -> float:
    """How often the pump looks at each open record (a minute in production): the sweep only
    finds what every other repair missed, so it need not cost a read per job per round."""
    return max(stall_s(rt), 12 * rt.settings.mj_pump_interval_s)


# What the pump reads of each record: a few fields, for thousands of records a round.
HOLDER_FIELDS = (
    "state",
    "account",
    "hold_until",
    "next_poll_at",
    "poll_seq",
    "sent_at",
    "woken_at",
)
SWEEP_FIELDS = ("state", "account", "created_at", "woken_at")


def pump(rt: Runtime) -> dict[str, int]:
    """One round of repairs over every account; returns what it did, for logs and tests.

    Its cost does not grow with the jobs it leaves alone beyond one read each: every account
    is filled, and every holder and due record read, in a few round trips. One round runs at a
    time (beat may fire while a slow round goes on); the others return at once.
    """
    done = {"woken": 0, "revived": 0, "reaped": 0, "redelivered": 0, "orphaned": 0}
    turn, token = Lease(rt.redis, rt.keys.pump_turn), new_token()
    if not turn.take(token, _turn_ms(rt) / 1000):
        return done
    try:
        _round(rt, rt.clock(), stall_s(rt), done)
    finally:
        turn.give_back(token)  # never another round's turn, if this one outlived its own
    return done


def _turn_ms(rt: Runtime) -> int:
    """How long a round may hold its turn: a killed round blocks the next ones this long."""
    return max(1, round(2000 * rt.settings.mj_pump_interval_s))


def _round(rt: Runtime, now: float, stall: float, done: dict[str, int]) -> None:
    labels = rt.pool.labels
    for woken in rt.guard.fill_all(labels).values():
        wake(rt, woken)
        done["woken"] += len(woken)
    leases = rt.guard.leases(labels)
    recs = rt.records.peek([j for held in leases.values() for j in held], HOLDER_FIELDS)
    for label, held in leases.items():
        for job_id, ms_left in held.items():
            _look_at_holder(rt, label, job_id, recs.get(job_id), ms_left, now, stall, done)
    _sweep(rt, now, stall, done)
    for job_id in [str(j) for j in rt.redis.zrangebyscore(rt.keys.undelivered, 0, now - stall)]:
        rec = rt.records.load(job_id)
        if rec is None or rec.state not in TERMINAL:
            # Noted by a settle that then lost its compare-and-set (or died before it): the
            # job goes on, and whoever ends it notes it again.
            rt.redis.zrem(rt.keys.undelivered, job_id)
            continue
        rt.redis.zadd(rt.keys.undelivered, {job_id: now})
        rt.dispatcher.resume(job_id)
        done["redelivered"] += 1


def _look_at_holder(
    rt: Runtime,
    label: str,
    job_id: str,
    rec: JobRecord | None,
    ms_left: int,
    now: float,
    stall: float,
    done: dict[str, int],
) -> None:
    """Renew a holder's lease when half of it is spent, revive its lost step, or reap the slot
    of a job that is gone. A lease outlives the job, so renewing at half time keeps it alive
    for as long as the pump runs, at one write per lease and not one per round."""
    if rec is not None and rec.state in TERMINAL and rec.hold_until > now:
        return  # ended blind (lost submit, no history): the slot waits out the job's life
    if rec is None or rec.state in TERMINAL or rec.account != label:
        wake(rt, rt.guard.release(label, job_id))
        done["reaped"] += 1
        return
    if 0 < ms_left < 500 * rt.timing.lease_s:
        rt.guard.renew(label, job_id, confirms=rec.state == SUBMITTED)  # not a probe's answer
    if rec.state in (SUBMITTED, AMBIGUOUS) and now > rec.next_poll_at + stall:
        # next_poll_at moves on too: a revived step that is merely slow (a loaded machine)
        # must not be revived again at every round, each revival adding one more message.
        if rt.records.cas(
            job_id, {"poll_seq": rec.poll_seq}, poll_seq=rec.poll_seq + 1, next_poll_at=now
        ):
            log.warning("job %s: poll chain lost; reviving it", job_id)
            rt.dispatcher.poll(job_id, rec.poll_seq + 1, 0.0, label)
            done["revived"] += 1
    elif rec.state == SUBMITTING and now - rec.sent_at > _submit_limit(rt) + stall:
        if rt.records.cas(
            job_id,
            {"state": SUBMITTING, "poll_seq": rec.poll_seq},
            state=AMBIGUOUS,
            poll_seq=rec.poll_seq + 1,
            lost_at=now,
        ):
            log.warning("job %s: its submitter died mid-submit; reconciling", job_id)
            rt.dispatcher.poll(job_id, rec.poll_seq + 1, 0.0, label)
            done["revived"] += 1
    elif rec.state not in (SUBMITTED, AMBIGUOUS, SUBMITTING) and now - rec.woken_at > stall:
        wake(rt, [job_id])  # handed a slot, but its task never came
        done["revived"] += 1


def _sweep(rt: Runtime, now: float, stall: float, done: dict[str, int]) -> None:
    """Find jobs by their records, not through the guard: one that lost its message and its
    guard entry (a kill between two steps), or whose account's key was removed."""
    due = rt.records.due(now - sweep_s(rt))
    rt.records.look_again(due, now)  # each open record is looked at once per sweep period
    recs = rt.records.peek(due, SWEEP_FIELDS)
    parked: list[JobRecord] = []
    for job_id in due:
        rec = recs[job_id]
        if rec is None or rec.state in TERMINAL:
            rt.records.forget(job_id)
            continue
        if rec.account and not rt.pool.configured(rec.account):
            if not rt.pool.removed(rec.account):
                continue  # a newer node's key: its own pump looks after it
            if rec.state in (NEW, WAITING):
                rt.dispatcher.resume(job_id)  # `advance` moves it, or fails it if pinned
            else:
                full = rt.records.load(job_id)
                if full is not None:
                    orphan(rt, full)
            done["orphaned"] += 1
            continue
        if rec.state in (NEW, WAITING) and now - max(rec.created_at, rec.woken_at) >= stall:
            parked.append(rec)
    placed = rt.guard.where_all([(r.account, r.job_id) for r in parked if r.account])
    places = dict(zip([r.job_id for r in parked if r.account], placed, strict=True))
    for rec in parked:
        if places.get(rec.job_id) is None:
            log.warning(
                "job %s: %s with no message and no place in the guard; resuming it",
                rec.job_id,
                rec.state,
            )
            rt.dispatcher.resume(rec.job_id)
            done["revived"] += 1


def _submit_limit(rt: Runtime) -> float:
    s = rt.settings
    return s.mj_http_connect_timeout_s + s.mj_http_read_timeout_s


def refresh_accounts(rt: Runtime) -> dict[str, dict[str, object]]:
    """Read each account's /info: cap from `max_queue`, balance; bring back 402'd accounts."""
    seen: dict[str, dict[str, object]] = {}
    for label in rt.pool.labels:
        try:
            info = rt.pool.client(label).info()
        except (errors.Unauthorized, errors.InsufficientBalance) as exc:
            rt.pool.disable(label, exc.status_code or 0, exc.message)
            seen[label] = {"error": str(exc)}
            continue
        except errors.TTAPIError as exc:
            log.info("account %s: /info failed (%s)", label, exc)
            seen[label] = {"error": str(exc)}
            continue
        rt.guard.set_cap(label, info.max_queue)
        snapshot: dict[str, object] = {
            "balance": info.balance,
            "max_queue": info.max_queue,
            "at": rt.clock(),
        }
        rt.redis.hset(
            rt.keys.info(label),
            mapping={k: "" if v is None else str(v) for k, v in snapshot.items()},
        )
        reason = rt.pool.disabled_reason(label) or ""
        if reason.startswith("402") and (info.balance or 0) > 0:
            rt.pool.enable(label)
        wake(rt, rt.guard.fill(label))
        seen[label] = snapshot
    return seen
