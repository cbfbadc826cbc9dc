"""After a failover or a restart, what Redis says about slots and lines is re-derived, not trusted.

A promoted replica, or a master restarted from its append-only file, may have lost its last
writes: a slot grant, a line entry, a SUBMITTED (the submit's intent itself reached a replica
before the POST: `worker.jobs.durable`). The engine notices a new master by its `run_id`
(`Epoch`, asked on every lease beat) and then, for each account it holds (`rederive`):

- every job whose record says it runs at TTAPI (SUBMITTING, SUBMITTED, AMBIGUOUS) holds a slot
  again (`SlotGuard.restore`, above the cap if need be: TTAPI runs it either way);
- a SUBMITTING record older than a submit's longest HTTP life lost its answer's write: it
  becomes AMBIGUOUS and TTAPI's history says what became of it (reconcile), at once rather
  than after the scan's stall;
- a job not sent that neither holds a slot nor waits in line (its entry was lost) is queued
  again;
- then the account is scanned as on a takeover: every job in flight is fetched now (TTAPI's
  answers re-derive its state and progress), slots of jobs that ended are freed, jobs handed a
  slot are submitted.

Owed deliveries need nothing here: a job's ending and its owed note are one script (replicated
together), and the pump re-derives what is owed from the records. The clock is resynced (the
new master's `TIME` is another machine's) and the master's version asked again (`WAITAOF`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import redis

from worker.clock import RedisClock
from worker.engine.core import Action, ActionKind, EngineCore
from worker.jobs.offers import LINE_FIELDS, line_of
from worker.jobs.record import IN_FLIGHT, STORED_AS, UNSENT, RecordState
from worker.jobs.runtime import Runtime
from worker.text import text

log = logging.getLogger(__name__)
# The record fields read, by their names in the hash (the guard class `urgency` is stored as
# `priority`).
FIELDS = ("state", "account", "sent_at", "poll_seq", STORED_AS["urgency"], *LINE_FIELDS)
BATCH = 500  # records read per round trip


class Follower:
    """The engine's watch on the master (`check` on every lease beat; it never raises): on a
    new one, each held account is re-derived on the engine's pool, then scanned as taken over."""

    def __init__(self, rt: Runtime, core: EngineCore, run: Callable[..., object]) -> None:
        self.rt, self.core, self.run = rt, core, run
        self.epoch = Epoch(rt.redis)

    def check(self) -> None:
        """Look at the master's run_id; re-derive every held account if it is a new one."""
        try:
            if not self.epoch.changed():
                return
        except (redis.RedisError, OSError) as exc:
            log.debug("run_id not read: %s", type(exc).__name__)
            return
        log.warning("a new Redis master (run_id %s): re-deriving slots and lines", self.epoch.seen)
        new_master(self.rt)
        for label in sorted(self.core.owned):
            self.run(self._account, label)

    def _account(self, label: str) -> None:
        try:
            rederive(self.rt, label)
        except Exception:
            log.exception("account %s: re-deriving after a new master failed; scanning", label)
        self.core.scheduler.later(Action(ActionKind.TAKEOVER, label), 0.0)


@dataclass
class Epoch:
    """The master's `run_id` as last seen: `changed()` is True once per new master."""

    client: redis.Redis
    seen: str = ""

    def changed(self) -> bool:
        """Ask the master's run_id; True when it differs from the last one seen (not the first)."""
        run_id = str(self.client.info("server").get("run_id", ""))
        before, self.seen = self.seen, run_id
        return bool(before) and run_id != before


def new_master(rt: Runtime) -> None:
    """What every process of an engine does once on a new master: its clock and the master's
    version are asked again."""
    if isinstance(rt.clock, RedisClock):
        rt.clock.resync()
    rt.durability.forget_server()


def rederive(rt: Runtime, label: str) -> Counter[str]:
    """Re-derive `label`'s slots and line from its open records; what was done, counted."""
    done: Counter[str] = Counter()
    now = rt.clock()
    members = [text(m) for m in rt.redis.zrange(rt.keys.active, 0, -1)]
    head = len(rt.keys.job(""))
    ids = [m[head:] for m in members]
    for start in range(0, len(ids), BATCH):
        recs = rt.records.peek(ids[start : start + BATCH], FIELDS)
        mine = {j: r for j, r in recs.items() if r is not None and r.account == label}
        placed = rt.guard.where_all([(label, j) for j in mine])
        where = dict(zip(mine, placed, strict=True))
        running = [j for j, r in mine.items() if r.state in IN_FLIGHT and where[j] != "slot"]
        lines = {j: line_of(rt, mine[j]) for j in running}  # counted for their tenants again
        done["slots restored"] += rt.guard.restore(label, running, int(now * 1000), lines=lines)
        for job_id, rec in mine.items():
            if rec.state == RecordState.SUBMITTING and now - rec.sent_at > rt.timing.submit_limit_s:
                if rt.records.cas(
                    job_id,
                    {"state": RecordState.SUBMITTING, "poll_seq": rec.poll_seq},
                    state=RecordState.AMBIGUOUS,
                    poll_seq=rec.poll_seq + 1,
                    lost_at=now,
                ):
                    done["submits reconciled"] += 1
            elif rec.state in UNSENT and where[job_id] is None:
                rt.guard.enqueue(label, job_id, priority=rec.urgency, line=line_of(rt, rec))
                done["queued again"] += 1
    if done:
        log.warning("account %s after a new Redis master: %s", label, dict(done))
    return done


__all__ = ["Epoch", "Follower", "new_master", "rederive"]
