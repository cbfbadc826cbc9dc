"""The engine without its threads: the accounts a node holds, and what it does for them.

`EngineCore` turns hints and timers into `Action`s and performs one action at a time on the
`Runtime` it is given: a poll (fetch one job), a submit (a job handed a slot), a fill (hand an
account's free slots out) or a scan (an account's holders, looked at once after taking the
account over and every `scan_s` after). Where actions run is the `Scheduler`'s business: the
node's process runs them side by side in a pool of threads (`worker.engine.node`), the tests
one after another (tests/support/inline.py). Nothing here sleeps or waits on another action.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from worker.jobs import hints
from worker.jobs import poll as completion
from worker.jobs.holders import HOLDER_FIELDS, look_at_holder
from worker.jobs.record import UNSENT, RecordState
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.jobs.settle import resume_all
from worker.jobs.submit import take_over

log = logging.getLogger(__name__)
HINTS_PER_READ = 200  # hints popped in one round trip


@dataclass(frozen=True)
class Action:
    """One thing the engine does: `kind` is poll, submit, fill, scan or takeover; `arg` the job
    id (poll, submit) or the account label; `label` the account of a job's slot (submit)."""

    kind: str
    arg: str
    seq: int = 0
    label: str = ""


class Scheduler(Protocol):
    """Runs actions: now or after a delay (seconds), on whatever threads it has."""

    def later(self, action: Action, delay_s: float) -> None:
        """Perform `action` (through `EngineCore.perform`) in `delay_s` seconds."""

    def pending(self, kind: str, arg: str) -> bool:
        """Whether an action of `kind` on `arg` waits for its time."""


class EngineCore:
    """The accounts this engine holds (`owned`) and the actions it performs for them."""

    def __init__(self, rt: Runtime, scheduler: Scheduler) -> None:
        self.rt = rt
        self.scheduler = scheduler
        self.owned: set[str] = set()
        # The record of each job being polled, as its last step left it (a step that changes
        # nothing then reads nothing); a poll that finds it stale reads the record again.
        self.polling: dict[str, JobRecord] = {}
        rt.submitter = self.submit_soon

    # -- what comes in ----------------------------------------------------------------------
    def take(self, label: str) -> None:
        """This engine now holds `label`: look at all its holders at once."""
        self.owned.add(label)
        self.scheduler.later(Action("takeover", label), 0.0)

    def drop(self, label: str) -> None:
        """Another engine holds `label` now (or will): its actions are no longer ours."""
        self.owned.discard(label)
        for job_id, rec in list(self.polling.items()):
            if rec.account == label:
                self.polling.pop(job_id, None)

    def submit_soon(self, label: str, job_id: str) -> None:
        """Submit `job_id`, just handed a slot on `label`, as soon as a thread is free; on an
        account another engine holds (a slot handed on after this engine lost it), by that
        engine, through a hint."""
        if label not in self.owned:
            hints.ask_submit(self.rt.redis, self.rt.keys, label, [job_id])
            return
        self.scheduler.later(Action("submit", job_id, label=label), 0.0)

    def drain(self, label: str, first: Any = None) -> int:
        """Act on the account's hints (`first`, already popped, and up to a few hundred more);
        after any hint, fill the account once. Returns how many hints there were."""
        items = [first] if first is not None else []
        more = self.rt.redis.lpop(self.rt.keys.wake(label), HINTS_PER_READ)
        items += list(more or [])
        now_ms = int(self.rt.clock() * 1000)
        fill_at = 0.0 if items else None
        for item in items:
            hint = hints.parse(item)
            if hint is None:
                continue
            if hint.kind == hints.SUBMIT:
                self.submit_soon(label, hint.job_id)
            elif hint.kind == hints.POLL:
                delay = max(0.0, (hint.due_ms - now_ms) / 1000)
                self.scheduler.later(Action("poll", hint.job_id, hint.seq), delay)
            elif hint.kind == hints.STORE:
                if self.rt.storer is not None:  # copy a finished job's files (storage pool)
                    self.rt.storer(hint.job_id)
            elif hint.due_ms > now_ms:  # a fill after a cooldown
                self.scheduler.later(Action("fill", label), (hint.due_ms - now_ms) / 1000)
        if fill_at is not None:
            self.scheduler.later(Action("fill", label), fill_at)
        return len(items)

    # -- what it does -----------------------------------------------------------------------
    def perform(self, action: Action) -> None:
        """Do one action; an error is logged, never raised (the next scan repairs)."""
        try:
            if action.kind == "poll":
                known = self.polling.pop(action.arg, None)
                kept = completion.poll(self.rt, action.arg, action.seq, known)
                if kept is not None:
                    self.polling[action.arg] = kept
            elif action.kind == "submit":
                take_over(self.rt, action.label, action.arg)
            elif action.kind == "fill":
                if action.arg in self.owned:
                    resume_all(self.rt, action.arg, self.rt.guard.fill(action.arg))
            elif action.kind in ("scan", "takeover"):
                if action.arg in self.owned:
                    self.scan(action.arg, takeover=action.kind == "takeover")
            else:
                log.error("engine: unknown action %r", action)
        except Exception:
            log.exception("engine: %s %s failed; the next scan repairs what it left", *_of(action))

    def scan(self, label: str, *, takeover: bool = False) -> None:
        """Look at every holder of `label`: renew leases at half time and reap ended jobs'
        slots (before a fill, which drops lapsed leases), fill, then make sure each job in
        flight has its next poll (all of them at once on a takeover) and each job handed a
        slot is submitted."""
        rt = self.rt
        held = rt.guard.leases([label])[label]
        recs = rt.records.peek(list(held), HOLDER_FIELDS)
        now = rt.clock()
        for job_id, ms_left in held.items():
            look_at_holder(rt, label, job_id, recs.get(job_id), ms_left, now, revive=False)
        resume_all(rt, label, rt.guard.fill(label))
        for job_id in held:
            rec = recs.get(job_id)
            state = rec.state if rec is not None and rec.account == label else ""
            if state in UNSENT:  # handed a slot, not submitted (its submit was lost)
                if not self.scheduler.pending("submit", job_id):
                    self.submit_soon(label, job_id)
                continue
            sent = state in (RecordState.SUBMITTED, RecordState.AMBIGUOUS)
            lost = sent and not self.scheduler.pending("poll", job_id)
            if rec is not None and (lost or (takeover and sent)):
                delay = 0.0 if takeover else max(0.0, rec.next_poll_at - now)
                self.scheduler.later(Action("poll", job_id, rec.poll_seq), delay)


def _of(action: Action) -> tuple[str, str]:
    return action.kind, action.arg


__all__ = ["Action", "EngineCore", "Scheduler"]
