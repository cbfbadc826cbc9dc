"""The engine without its threads: the accounts a node holds, and what it does for them.

`EngineCore` turns hints and timers into `Action`s and performs one action at a time on the
`Runtime` it is given: a poll (fetch one job), a submit (a job handed a slot), a fill (hand an
account's free slots out) or a scan (an account's holders, looked at once after taking the
account over and every `scan_s` after). An action returns the effects of its job step
(`worker.jobs.effects`) to whoever ran it, the `Shell`, which carries them out in order: the
engine's own (submits, polls, fills, copies) through `carry`, the engine's interpreter (timers
for the accounts it holds, hints for the others), and Celery's itself. Where actions run is the
`Scheduler`'s business: the node's process runs them side by side in a pool of threads
(`worker.engine.node`), the tests one after another (tests/support/inline.py). Nothing here
sleeps or waits on another action.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ClassVar

from worker.engine.actions import Action, ActionKind, Scheduler, Shell
from worker.engine.dispatch import EngineDispatch
from worker.jobs import mishaps
from worker.jobs import poll as completion
from worker.jobs.effects import Effect, Effects, Failed, PollAt, Report, Submit
from worker.jobs.holders import HOLDER_FIELDS, look_at_holder
from worker.jobs.record import UNSENT, RecordState
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.jobs.settle import hand_on
from worker.jobs.stealing import fill_account
from worker.jobs.submit import take_over

log = logging.getLogger(__name__)


class EngineCore(EngineDispatch):
    """The accounts this engine holds (`owned`) and the actions it performs for them; its
    hints in and effects out are `EngineDispatch`'s. `storer` copies a finished job's files
    (the node's storage pool, with MJ_STORAGE_URL)."""

    # What each kind of action does (the storage pool performs STORE: worker.engine.storing).
    PERFORMS: ClassVar[dict[ActionKind, Callable[[EngineCore, Action], Effects]]]

    def __init__(
        self, rt: Runtime, scheduler: Scheduler, storer: Callable[[str], None] | None = None
    ) -> None:
        self.rt = rt
        self.scheduler = scheduler
        self.storer = storer
        self.owned: set[str] = set()
        # The record of each job being polled, as its last step (a submit or a poll) left it:
        # the next poll reads nothing first; one that finds it stale reads the record again.
        self.polling: dict[str, JobRecord] = {}

    # -- what comes in ----------------------------------------------------------------------
    def take(self, label: str) -> None:
        """This engine now holds `label`: look at all its holders at once."""
        self.owned.add(label)
        self.scheduler.later(Action(ActionKind.TAKEOVER, label), 0.0)

    def drop(self, label: str) -> None:
        """Another engine holds `label` now (or will): its actions are no longer ours."""
        self.owned.discard(label)
        self._forget(label)

    def _forget(self, label: str) -> None:
        """Drop the records kept for the polls of `label`'s jobs: the next poll reads."""
        for job_id, rec in list(self.polling.items()):
            if rec.account == label:
                self.polling.pop(job_id, None)

    # -- what it does -----------------------------------------------------------------------
    def perform(self, action: Action) -> Effects:
        """Do one action and return the effects of its step, for the shell that ran it to
        carry out. An error is never raised: a submit is tried again on this engine's timers
        (its record counts the errors: `worker.jobs.mishaps`), the rest is left to the next
        scan."""
        try:
            do = self.PERFORMS.get(action.kind)
            if do is None:
                log.error("engine: no such action here %r", action)
                return []
            return do(self, action)
        except Exception as exc:
            if action.kind != ActionKind.SUBMIT:
                log.exception("engine: %s %s failed; the next scan repairs it", *_of(action))
                return []
            return self._submit_failed(action, exc)

    def _submit_failed(self, action: Action, exc: Exception) -> Effects:
        job_id, label = action.arg, action.label
        log.exception("engine: submit %s failed", job_id)

        def again(delay_s: float) -> Effect:
            return Submit(label, job_id, delay_s)

        try:
            outcome, fx = mishaps.after_error(self.rt, job_id, exc, again)
        except Exception:
            log.exception("engine: submit %s failed twice; the next scan repairs it", job_id)
            return []
        return [Report.end(job_id), *fx] if isinstance(outcome, Failed) else fx  # it reports

    def _poll(self, action: Action) -> Effects:
        known = self.polling.pop(action.arg, None)
        return self._keep(completion.poll(self.rt, action.arg, action.seq, known))

    def _submit(self, action: Action) -> Effects:
        return self._keep(take_over(self.rt, action.label, action.arg))

    def _keep(self, fx: Effects) -> Effects:
        """Keep the record a step left for the poll it asks for (`PollAt.known`)."""
        for effect in fx:
            if isinstance(effect, PollAt) and effect.known is not None:
                self.polling[effect.job_id] = effect.known
        return fx

    def _fill(self, action: Action) -> Effects:
        if action.arg not in self.owned:
            return []
        return fill_account(self.rt, action.arg)  # and take a waiter of another's line

    def _scan(self, action: Action) -> Effects:
        if action.arg not in self.owned:
            return []
        return self.scan(action.arg, takeover=action.kind == ActionKind.TAKEOVER)

    def scan(self, label: str, *, takeover: bool = False) -> Effects:
        """Look at every holder of `label`: renew leases at half time and reap ended jobs'
        slots (before a fill, which drops lapsed leases), fill, then make sure each job in
        flight has its next poll (all of them at once on a takeover) and each job handed a
        slot is submitted."""
        rt = self.rt
        if takeover:  # after a failover (writes may be lost) or a lapse: nothing kept holds
            self._forget(label)
        held = rt.guard.leases([label])[label]
        recs = rt.records.peek(list(held), HOLDER_FIELDS)
        now = rt.clock()
        fx: Effects = []
        for job_id, ms_left in held.items():
            fx += look_at_holder(rt, label, job_id, recs.get(job_id), ms_left, now, revive=False)[1]
        fx += hand_on(rt, label, rt.guard.fill(label))
        for job_id in held:
            rec = recs.get(job_id)
            state = rec.state if rec is not None and rec.account == label else ""
            if state in UNSENT:  # handed a slot, not submitted (its submit was lost)
                if not self.scheduler.pending(ActionKind.SUBMIT, job_id):
                    fx.append(Submit(label, job_id))
                continue
            sent = state in (RecordState.SUBMITTED, RecordState.AMBIGUOUS)
            lost = sent and not self.scheduler.pending(ActionKind.POLL, job_id)
            if rec is not None and (lost or (takeover and sent)):
                delay = 0.0 if takeover else max(0.0, rec.next_poll_at - now)
                fx.append(PollAt(job_id, rec.poll_seq, delay, label))
        return fx


EngineCore.PERFORMS = {
    ActionKind.POLL: EngineCore._poll,
    ActionKind.SUBMIT: EngineCore._submit,
    ActionKind.FILL: EngineCore._fill,
    ActionKind.SCAN: EngineCore._scan,
    ActionKind.TAKEOVER: EngineCore._scan,
}


def _of(action: Action) -> tuple[str, str]:
    return action.kind, action.arg


__all__ = ["Action", "ActionKind", "EngineCore", "Scheduler", "Shell"]
