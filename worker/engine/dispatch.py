"""The engine's traffic: hints in, effects out.

In: other processes ask an account's engine through its hint list (`worker.jobs.hints`); `drain`
turns what it pops into actions, and fills the account once after any hint.

Out: the engine's interpreter of its effects (`carry`): a submit, a poll or a fill on an
account this engine holds becomes a timer, a copy goes to its storage pool; on an account it
does not hold (a slot handed on after it lost the account, a callback's poll) the effect
becomes a hint to that account's engine. Reports and visible states are Celery's: the shell
around each action carries them out (`worker.engine.actions.Shell`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from worker.engine.actions import Action, ActionKind, Scheduler
from worker.jobs import hints
from worker.jobs.effects import Effect, EffectKind, Fill, PollAt, Store, Submit
from worker.jobs.runtime import Runtime

HINTS_PER_READ = 200  # hints popped in one round trip


class EngineDispatch:
    """Hints in, the engine's effects out, for the accounts in `owned` (see the module)."""

    rt: Runtime
    scheduler: Scheduler
    owned: set[str]
    storer: Callable[[str], None] | None  # the storage pool's `soon`, if the node has one
    # How the engine carries out each of its effects (the rest are the shell's).
    CARRIES: ClassVar[dict[EffectKind, Callable[[Any, Any], None]]]
    # What each kind of hint does (every hint is followed by one fill: `drain`).
    ON_HINT: ClassVar[dict[hints.HintKind, Callable[[Any, str, hints.Hint, int], None]]]

    # -- out: the engine's effects ----------------------------------------------------------
    def carry(self, effect: Effect) -> None:
        """Carry out one of the engine's effects: a timer on an account this engine holds; on
        another (a slot handed on after this engine lost the account), a hint to its engine."""
        self.CARRIES[effect.kind](self, effect)

    def _hint(self, effect: Effect) -> None:
        label, text = hints.ask(effect, self.rt.clock())
        if label:
            hints.push(self.rt.redis, self.rt.keys, label, [text])

    def _carry_submit(self, effect: Submit) -> None:
        if effect.label not in self.owned:
            self._hint(effect)
            return
        action = Action(ActionKind.SUBMIT, effect.job_id, label=effect.label)
        self.scheduler.later(action, effect.delay_s)

    def _carry_poll(self, effect: PollAt) -> None:
        if effect.account and effect.account not in self.owned:
            self._hint(effect)
            return
        self.scheduler.later(Action(ActionKind.POLL, effect.job_id, effect.seq), effect.delay_s)

    def _carry_fill(self, effect: Fill) -> None:
        if effect.label not in self.owned:
            self._hint(effect)
            return
        self.scheduler.later(Action(ActionKind.FILL, effect.label), effect.delay_s)

    def _carry_store(self, effect: Store) -> None:
        if self.storer is not None:  # copy a finished job's files (storage pool)
            self.storer(effect.job_id)
        else:  # an engine without a store: the account's engine, if it has one
            self._hint(effect)

    # -- in: hints --------------------------------------------------------------------------
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
                self.ON_HINT[hint.kind](self, label, hint, now_ms)
        if items:  # after any hint, fill the account once
            self.scheduler.later(Action(ActionKind.FILL, label), 0.0)
        return len(items)

    def _hinted_submit(self, label: str, hint: hints.Hint, now_ms: int) -> None:
        self.carry(Submit(label, hint.job_id))

    def _hinted_poll(self, label: str, hint: hints.Hint, now_ms: int) -> None:
        delay = max(0.0, (hint.due_ms - now_ms) / 1000)
        self.scheduler.later(Action(ActionKind.POLL, hint.job_id, hint.seq), delay)

    def _hinted_store(self, label: str, hint: hints.Hint, now_ms: int) -> None:
        if self.storer is not None:  # copy a finished job's files (storage pool)
            self.storer(hint.job_id)

    def _hinted_fill(self, label: str, hint: hints.Hint, now_ms: int) -> None:
        if hint.due_ms > now_ms:  # a fill after a cooldown (one now follows every hint)
            self.scheduler.later(Action(ActionKind.FILL, label), (hint.due_ms - now_ms) / 1000)


EngineDispatch.CARRIES = {
    EffectKind.SUBMIT: EngineDispatch._carry_submit,
    EffectKind.POLL: EngineDispatch._carry_poll,
    EffectKind.FILL: EngineDispatch._carry_fill,
    EffectKind.STORE: EngineDispatch._carry_store,
}
EngineDispatch.ON_HINT = {
    hints.HintKind.SUBMIT: EngineDispatch._hinted_submit,
    hints.HintKind.POLL: EngineDispatch._hinted_poll,
    hints.HintKind.STORE: EngineDispatch._hinted_store,
    hints.HintKind.FILL: EngineDispatch._hinted_fill,
}


__all__ = ["HINTS_PER_READ", "EngineDispatch"]
