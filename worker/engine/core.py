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
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from worker.jobs import hints
from worker.jobs import poll as completion
from worker.jobs.holders import HOLDER_FIELDS, look_at_holder
from worker.jobs.record import UNSENT, RecordState
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.jobs.settle import resume_all
from worker.jobs.stealing import fill_account
from worker.jobs.submit import take_over

log = logging.getLogger(__name__)
HINTS_PER_READ = 200  # hints popped in one round trip


class ActionKind(StrEnum):
    """What the engine does (its timers' keys; the values show in logs)."""

    POLL = "poll"  # fetch one job (its poll step `seq`)
    SUBMIT = "submit"  # submit a job handed a slot on `label`
    FILL = "fill"  # hand an account's free slots out
    SCAN = "scan"  # look at an account's holders (every `stall_s`)
    TAKEOVER = "takeover"  # the same, at once, after taking the account over
    STORE = "store"  # copy a finished job's files (the storage pool's: worker.engine.storing)


@dataclass(frozen=True)
class Action:
    """One thing the engine does: its `kind`; `arg` the job id (poll, submit, store) or the
    account label; `label` the account of a job's slot (submit). A kind given by its value
    becomes the member (an unknown one is a ValueError)."""

    kind: ActionKind
    arg: str
    seq: int = 0
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ActionKind(self.kind))


class Scheduler(Protocol):
    """Runs actions: now or after a delay (seconds), on whatever threads it has."""

    def later(self, action: Action, delay_s: float) -> None:
        """Perform `action` (through `EngineCore.perform`) in `delay_s` seconds."""

    def pending(self, kind: ActionKind, arg: str) -> bool:
        """Whether an action of `kind` on `arg` waits for its time."""


class EngineCore:
    """The accounts this engine holds (`owned`) and the actions it performs for them."""

    # What each kind of action does (the storage pool performs STORE: worker.engine.storing).
    PERFORMS: ClassVar[dict[ActionKind, Callable[[EngineCore, Action], None]]]

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
        self.scheduler.later(Action(ActionKind.TAKEOVER, label), 0.0)

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
        self.scheduler.later(Action(ActionKind.SUBMIT, job_id, label=label), 0.0)

    def drain(self, label: str, first: Any = None) -> int:
        """Act on the account's hints (`first`, already popped, and up to a few hundred more);
        after any hint, fill the account once. Returns how many hints there were."""
        items = [first] if first is not None else []
        more = self.rt.redis.lpop(self.rt.keys.wake(label), HINTS_PER_READ)
        items += list(more or [])
        now_ms = int(self.rt.clock() * 1000)
        for item in items:
            hint = hints.parse(item)
            if hint is not None:
                _ON_HINT[hint.kind](self, label, hint, now_ms)
        if items:  # after any hint, fill the account once
            self.scheduler.later(Action(ActionKind.FILL, label), 0.0)
        return len(items)

    def _hinted_submit(self, label: str, hint: hints.Hint, now_ms: int) -> None:
        self.submit_soon(label, hint.job_id)

    def _hinted_poll(self, label: str, hint: hints.Hint, now_ms: int) -> None:
        delay = max(0.0, (hint.due_ms - now_ms) / 1000)
        self.scheduler.later(Action(ActionKind.POLL, hint.job_id, hint.seq), delay)

    def _hinted_store(self, label: str, hint: hints.Hint, now_ms: int) -> None:
        if self.rt.storer is not None:  # copy a finished job's files (storage pool)
            self.rt.storer(hint.job_id)

    def _hinted_fill(self, label: str, hint: hints.Hint, now_ms: int) -> None:
        if hint.due_ms > now_ms:  # a fill after a cooldown (one now follows every hint)
            self.scheduler.later(Action(ActionKind.FILL, label), (hint.due_ms - now_ms) / 1000)

    # -- what it does -----------------------------------------------------------------------
    def perform(self, action: Action) -> None:
        """Do one action; an error is logged, never raised (the next scan repairs)."""
        try:
            do = self.PERFORMS.get(action.kind)
            if do is None:
                log.error("engine: no such action here %r", action)
                return
            do(self, action)
        except Exception:
            log.exception("engine: %s %s failed; the next scan repairs what it left", *_of(action))

    def _poll(self, action: Action) -> None:
        known = self.polling.pop(action.arg, None)
        kept = completion.poll(self.rt, action.arg, action.seq, known)
        if kept is not None:
            self.polling[action.arg] = kept

    def _submit(self, action: Action) -> None:
        take_over(self.rt, action.label, action.arg)

    def _fill(self, action: Action) -> None:
        if action.arg in self.owned:
            fill_account(self.rt, action.arg)  # and take a waiter of another's line

    def _scan(self, action: Action) -> None:
        if action.arg in self.owned:
            self.scan(action.arg, takeover=action.kind == ActionKind.TAKEOVER)

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
                if not self.scheduler.pending(ActionKind.SUBMIT, job_id):
                    self.submit_soon(label, job_id)
                continue
            sent = state in (RecordState.SUBMITTED, RecordState.AMBIGUOUS)
            lost = sent and not self.scheduler.pending(ActionKind.POLL, job_id)
            if rec is not None and (lost or (takeover and sent)):
                delay = 0.0 if takeover else max(0.0, rec.next_poll_at - now)
                self.scheduler.later(Action(ActionKind.POLL, job_id, rec.poll_seq), delay)


EngineCore.PERFORMS = {
    ActionKind.POLL: EngineCore._poll,
    ActionKind.SUBMIT: EngineCore._submit,
    ActionKind.FILL: EngineCore._fill,
    ActionKind.SCAN: EngineCore._scan,
    ActionKind.TAKEOVER: EngineCore._scan,
}
# What each kind of hint does (every hint is followed by one fill: `drain`).
_ON_HINT: dict[hints.HintKind, Callable[[EngineCore, str, hints.Hint, int], None]] = {
    hints.HintKind.SUBMIT: EngineCore._hinted_submit,
    hints.HintKind.POLL: EngineCore._hinted_poll,
    hints.HintKind.STORE: EngineCore._hinted_store,
    hints.HintKind.FILL: EngineCore._hinted_fill,
}


def _of(action: Action) -> tuple[str, str]:
    return action.kind, action.arg


__all__ = ["Action", "ActionKind", "EngineCore", "Scheduler"]
