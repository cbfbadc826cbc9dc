"""Timed callbacks: one scheduler thread (heapq + Condition) hands due work to a small pool."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


class Scheduler:
    """Runs each scheduled function at its monotonic deadline without busy polling."""

    def __init__(self, workers: int = 8) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sim-hook")
        self._thread = threading.Thread(target=self._run, name="sim-hook-scheduler", daemon=True)

    def start(self) -> None:
        """Start the scheduler thread."""
        self._thread.start()

    def schedule(self, at: float, fn: Callable[[], None]) -> None:
        """Run `fn` at monotonic time `at` (at once if that is past)."""
        with self._cond:
            if self._stopping:
                return
            seq = next(self._seq)
            heapq.heappush(self._heap, (at, seq, fn))
            if self._heap[0][1] == seq:  # a new earliest deadline: wake the thread to re-aim
                self._cond.notify()

    def stop(self) -> None:
        """Drop pending work, stop the thread and wait for callbacks already running."""
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    if not self._heap:
                        self._cond.wait()
                        continue
                    delay = self._heap[0][0] - time.monotonic()
                    if delay <= 0:
                        break
                    self._cond.wait(delay)
                if self._stopping:
                    return
                _, _, fn = heapq.heappop(self._heap)
            self._pool.submit(fn)
