"""Periodic safety nets: the pump (lost hints, accounts no engine holds, undelivered results,
records nobody looks after) and /info.

Nothing here is on the hot path: the engines hand slots out and poll. The pump only repairs
what a killed process or a lost message left behind, and asks each engine to fill once a round;
what it asks for is returned as effects, for the pump's task to carry out.
"""

from __future__ import annotations

import logging

from worker.capacity.leases import Lease, new_token
from worker.jobs import storing
from worker.jobs.effects import Effect, Effects, Fill, Report
from worker.jobs.holders import HOLDER_FIELDS, look_at_holder
from worker.jobs.offers import LINE_FIELDS, line_of
from worker.jobs.poll import orphan
from worker.jobs.record import IN_FLIGHT, TERMINAL, UNSENT
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.jobs.settle import hand_on
from worker.policy import PUMP_TURN_PUMPS
from worker.ttapi import errors

log = logging.getLogger(__name__)


SWEEP_FIELDS = (*HOLDER_FIELDS, "created_at", *LINE_FIELDS)


def pump(rt: Runtime) -> tuple[dict[str, int], Effects]:
    """One round of repairs over every account; returns what it did (for logs and tests) and
    what follows.

    Its cost does not grow with the jobs it leaves alone beyond one read each: every account
    is filled, and every holder and due record read, in a few round trips. One round runs at a
    time (beat may fire while a slow round goes on); the others return at once.
    """
    done = {"woken": 0, "revived": 0, "reaped": 0, "redelivered": 0, "orphaned": 0}
    turn, token = Lease(rt.redis, rt.keys.pump_turn), new_token()
    if not turn.take(token, _turn_ms(rt) / 1000):
        return done, []
    try:
        fx = _round(rt, rt.clock(), rt.timing.stall_s, done)
    finally:
        turn.give_back(token)  # never another round's turn, if this one outlived its own
    return done, fx


def _turn_ms(rt: Runtime) -> int:
    """How long a round may hold its turn: a killed round blocks the next ones this long."""
    return max(1, round(PUMP_TURN_PUMPS * 1000 * rt.settings.mj_pump_interval_s))


def _round(rt: Runtime, now: float, stall: float, done: dict[str, int]) -> Effects:
    labels = rt.pool.guard_labels
    rt.redis.set(rt.keys.pump_last, f"{now:.3f}")
    owned, fx = _hint_engines(rt, labels)
    unheld = [lb for lb in labels if lb not in owned]
    leases = rt.guard.leases(unheld)
    recs = rt.records.peek([j for held in leases.values() for j in held], HOLDER_FIELDS)
    for label, held in leases.items():
        for job_id, ms_left in held.items():
            what, more = look_at_holder(rt, label, job_id, recs.get(job_id), ms_left, now)
            fx += more
            if what:
                done[what] += 1
    fx += _sweep(rt, now, stall, done, owned)
    if rt.settings.mj_storage_url or rt.redis.zcard(rt.keys.storing):
        done["storing"], more = storing.revive(rt, now, stall)
        fx += more
    for job_id in [str(j) for j in rt.redis.zrangebyscore(rt.keys.undelivered, 0, now - stall)]:
        rec = rt.records.load(job_id)
        if rec is None or rec.state not in TERMINAL:
            # Noted by a settle that then lost its compare-and-set (or died before it): the
            # job goes on, and whoever ends it notes it again.
            rt.redis.zrem(rt.keys.undelivered, job_id)
            continue
        rt.redis.zadd(rt.keys.undelivered, {job_id: now})
        if storing.held(rec):
            continue  # its files are being copied to the store: the copy's end reports it
        fx.append(Report(job_id))
        done["redelivered"] += 1
    return fx


def _hint_engines(rt: Runtime, labels: list[str]) -> tuple[set[str], Effects]:
    """Ask the engine of every account with jobs waiting and no hint pending to fill it (a
    lost hint costs a round at most); the accounts an engine holds, whose holders are its."""
    pipe = rt.redis.pipeline(transaction=False)
    for label in labels:
        pipe.get(rt.keys.owner(label))
        pipe.zcard(rt.keys.guard(label)[1])
        pipe.llen(rt.keys.wake(label))
    found = pipe.execute() if labels else []
    owned, fx = set(), list[Effect]()
    for i, label in enumerate(labels):
        owner, waiting, hinted = found[3 * i : 3 * i + 3]
        if owner is not None:
            owned.add(label)
        if waiting and not hinted:
            fx.append(Fill(label))
    return owned, fx


def _sweep(rt: Runtime, now: float, stall: float, done: dict[str, int], owned: set[str]) -> Effects:
    """Find jobs by their records, not through the guard: one that lost its message and its
    guard entry (a kill between two steps), one in flight whose poll chain and slot are gone
    (an engine restarted after its lease on the slot lapsed), or one whose account's key was
    removed. The poll chains of the accounts an engine holds (`owned`) are that engine's: its
    scans give every job in flight a poll, and a poll that sees nothing new writes nothing, so
    a long job's record looks overdue while its chain is alive."""
    due = rt.records.due(now - rt.timing.sweep_s)
    rt.records.look_again(due, now)  # each open record is looked at once per sweep period
    recs = rt.records.peek(due, SWEEP_FIELDS)
    found: list[JobRecord] = []
    fx: Effects = []
    for job_id in due:
        rec = recs[job_id]
        if rec is None or rec.state in TERMINAL:
            rt.records.forget(job_id)
            continue
        if rec.account and not rt.pool.configured(rec.account):
            if not rt.pool.removed(rec.account):
                continue  # a newer node's key: its own pump looks after it
            if rec.state in UNSENT:
                fx.append(Report(job_id))  # `advance` moves it, or fails it if pinned
            else:
                full = rt.records.load(job_id)
                if full is not None:
                    fx += orphan(rt, full)[1]
            done["orphaned"] += 1
            continue
        in_flight = rec.state in IN_FLIGHT and bool(rec.account)
        if in_flight or (rec.state in UNSENT and now - max(rec.created_at, rec.woken_at) >= stall):
            found.append(rec)
    placed = rt.guard.where_all([(r.account, r.job_id) for r in found if r.account])
    places = dict(zip([r.job_id for r in found if r.account], placed, strict=True))
    for rec in found:
        if rec.state in IN_FLIGHT:
            seated = places.get(rec.job_id) is not None
            fx += _in_flight(rt, rec, seated, now, done, revive=rec.account not in owned)
        elif places.get(rec.job_id) is None:
            log.warning(
                "job %s: %s with no message and no place in the guard; resuming it",
                rec.job_id,
                rec.state,
            )
            fx.append(Report(rec.job_id))
            done["revived"] += 1
    return fx


def _in_flight(
    rt: Runtime, rec: JobRecord, placed: bool, now: float, d: dict[str, int], *, revive: bool
) -> Effects:
    """A job TTAPI may run: counted against the cap again if its slot is gone, and its lost
    submit reconciled and (with `revive`: no engine holds its account) its overdue poll
    revived, as for a holder."""
    if not placed and rt.guard.seat(rec.account, rec.job_id, now, line=line_of(rt, rec)):
        log.warning("job %s: %s with no slot in the guard; counted again", rec.job_id, rec.state)
    what, fx = look_at_holder(rt, rec.account, rec.job_id, rec, 0, now, revive=revive)
    if what:
        d[what] += 1
    return fx


def refresh_accounts(rt: Runtime) -> tuple[dict[str, dict[str, object]], Effects]:
    """Read each account's /info: cap from `max_queue`, balance; bring back 402'd accounts."""
    seen: dict[str, dict[str, object]] = {}
    fx: Effects = []
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
        fx += hand_on(rt, label, rt.guard.fill(label))
        seen[label] = snapshot
    return seen, fx
