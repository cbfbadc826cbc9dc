"""The engine's timers: actions due now or later, handed to a pool of threads when due.

One thread sleeps until the earliest action is due (a condition variable: an earlier action
scheduled meanwhile wakes it) and hands due actions to the pool, never running one itself: a
slow TTAPI answer holds one pool thread, never the clock. An action scheduled again before it
ran keeps the earlier of the two times. On its pool thread an action runs inside the runner
given to `run` (the node's shell), which carries out the effects the action returns.

An action stays *pending* until it has run (`perform` returned), not only until it is handed
to the pool: behind 30 s HTTP calls it may wait there long, and a scan that took it for lost
would add a second submit of the same job. Asked for again while it waits in the pool, it is
not queued twice (it reads what is new when it starts); asked for while it runs, it runs once
more after it returns, never beside itself.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from worker.engine.actions import Action, ActionKind
from worker.jobs.effects import Effects

log = logging.getLogger(__name__)
Key = tuple[ActionKind, str, int]
Runner = Callable[[Callable[[], Effects]], None]


def no_effects(step: Callable[[], Any]) -> None:
    """The runner of timers whose actions return no effects (a shell carries out the others)."""
    if step():
        log.error("an action returned effects, and these timers carry none out")


class Timers:
    """A `Scheduler` for the engine's node: a heap of due times and a thread pool."""

    def __init__(self, executor: Executor, perform: Callable[[Action], Any]) -> None:
        self._executor = executor
        self._perform = perform
        self._heap: list[tuple[float, int, Action]] = []
        self._due: dict[Key, float] = {}  # waiting for their time
        self._busy: dict[Key, bool] = {}  # handed to the pool: False queued, True running
        self._again: dict[Key, tuple[float, Action]] = {}  # asked for again while running
        self._live: dict[tuple[ActionKind, str], int] = {}  # (kind, arg) -> keys waiting or busy
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False

    def later(self, action: Action, delay_s: float) -> None:
        """Perform `action` in `delay_s` seconds (at once when 0), unless it is due sooner."""
        due = time.monotonic() + max(0.0, delay_s)
        key = (action.kind, action.arg, action.seq)
        with self._cond:
            started = self._busy.get(key)
            if started is False:
                return  # queued in the pool: it reads what is new when it starts
            if started:
                known = self._again.get(key)
                if known is None or due < known[0]:
                    self._again[key] = (due, action)
                return
            known_due = self._due.get(key)
            if known_due is not None and known_due <= due:
                return
            if known_due is None:
                self._live[key[:2]] = self._live.get(key[:2], 0) + 1
            self._push(key, due, action)

    def _push(self, key: Key, due: float, action: Action) -> None:
        self._due[key] = due
        heapq.heappush(self._heap, (due, next(self._order), action))
        if self._heap[0][2] is action:
            self._cond.notify()

    def pending(self, kind: ActionKind, arg: str) -> bool:
        """Whether an action of `kind` on `arg` waits for its time, or for a thread, or runs."""
        with self._cond:
            return (kind, arg) in self._live

    def size(self) -> int:
        """How many actions wait for their time."""
        with self._cond:
            return len(self._due)

    def run(self, runner: Runner = no_effects) -> None:
        """Hand due actions to the pool until `stop` (the timer thread's body); each runs
        inside `runner`, which carries out the effects it returns."""
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._stopped:
                    return
                due, _, action = heapq.heappop(self._heap)
                key = (action.kind, action.arg, action.seq)
                if self._due.get(key) != due:
                    continue  # superseded by an earlier time, and already handed out
                del self._due[key]
                self._busy[key] = False
            try:
                self._executor.submit(runner, functools.partial(self._run, action))
            except RuntimeError:  # the pool is shutting down
                return

    def _run(self, action: Action) -> Any:
        """One action on a pool thread; then it is no longer pending (or runs once more). What
        it returns goes to the runner."""
        key = (action.kind, action.arg, action.seq)
        with self._cond:
            self._busy[key] = True
        try:
            return self._perform(action)
        finally:
            with self._cond:
                del self._busy[key]
                again = self._again.pop(key, None)
                if again is not None and not self._stopped:
                    self._push(key, *again)
                else:
                    left = self._live.pop(key[:2]) - 1
                    if left:
                        self._live[key[:2]] = left

    def stop(self) -> None:
        """End `run` (actions not yet due are dropped: the next engine's scan finds them)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()


__all__ = ["Runner", "Timers", "no_effects"]
