"""The engine's timers: actions due now or later, handed to a pool of threads when due.

One thread sleeps until the earliest action is due (a condition variable: an earlier action
scheduled meanwhile wakes it) and hands due actions to the pool, never running one itself: a
slow TTAPI answer holds one pool thread, never the clock. An action scheduled again before it
ran keeps the earlier of the two times.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor

from worker.engine.core import Action

log = logging.getLogger(__name__)


class Timers:
    """A `Scheduler` for the engine's node: a heap of due times and a thread pool."""

    def __init__(self, executor: Executor, perform: Callable[[Action], None]) -> None:
        self._executor = executor
        self._perform = perform
        self._heap: list[tuple[float, int, Action]] = []
        self._due: dict[tuple[str, str, int], float] = {}
        self._waiting: dict[tuple[str, str], int] = {}  # (kind, arg) -> how many keys
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False

    def later(self, action: Action, delay_s: float) -> None:
        """Perform `action` in `delay_s` seconds (at once when 0), unless it is due sooner."""
        due = time.monotonic() + max(0.0, delay_s)
        key = (action.kind, action.arg, action.seq)
        with self._cond:
            known = self._due.get(key)
            if known is not None and known <= due:
                return
            if known is None:
                self._waiting[key[:2]] = self._waiting.get(key[:2], 0) + 1
            self._due[key] = due
            heapq.heappush(self._heap, (due, next(self._order), action))
            if self._heap[0][2] is action:
                self._cond.notify()

    def pending(self, kind: str, arg: str) -> bool:
        """Whether an action of `kind` on `arg` waits for its time."""
        with self._cond:
            return (kind, arg) in self._waiting

    def size(self) -> int:
        """How many actions wait."""
        with self._cond:
            return len(self._due)

    def run(self) -> None:
        """Hand due actions to the pool until `stop` (the timer thread's body)."""
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
                left = self._waiting.pop(key[:2]) - 1
                if left:
                    self._waiting[key[:2]] = left
            try:
                self._executor.submit(self._perform, action)
            except RuntimeError:  # the pool is shutting down
                return

    def stop(self) -> None:
        """End `run` (actions not yet due are dropped: the next engine's scan finds them)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()


__all__ = ["Timers"]
