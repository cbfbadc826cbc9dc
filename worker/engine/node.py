"""The engine of one worker node, with its threads: timers, a waiter on hints, lease beats.

- The timer thread hands due actions (polls, submits, fills, scans) to a pool of
  `MJ_ENGINE_THREADS` threads: TTAPI calls of different jobs and accounts overlap. Each action
  runs inside the shell given to `run` (the Celery adapter's dispatcher), which carries out
  the effects it returns: the engine's own back through its core, reports and states itself.
- The hint thread blocks on the hint lists of the accounts this engine holds (one `BLPOP` over
  all of them) and turns what arrives into actions at once.
- The beat thread renews this engine's account leases every third of `MJ_ENGINE_LEASE_S`,
  takes its share of free accounts, gives back what is above it, and schedules each held
  account's scan every `stall_s`.
- The keeper thread renews the slot leases of the held accounts' jobs (`worker.engine.keeper`),
  whatever the pool is busy with.

A thread that dies of an error it does not expect (a bug, not Redis away) stops the engine: its
process exits with an error and the worker's bootstep starts it again, instead of an engine
that lives on without its hints, its timers or its leases.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import redis

from config.settings import Settings
from worker.capacity.holdings import Holdings
from worker.connect import redis_for
from worker.engine.actions import Action, ActionKind, Shell
from worker.engine.core import EngineCore
from worker.engine.keeper import keep_every, renew_slots
from worker.engine.ownership import Ownership
from worker.engine.rederive import Follower
from worker.engine.storing import StorePool
from worker.engine.timers import Timers
from worker.jobs.runtime import Runtime, redis_client
from worker.policy import (
    ENGINE_HINT_READ_MARGIN_S,
    ENGINE_HINT_WAIT_S,
    ENGINE_IDLE_WAIT_S,
    ENGINE_RETRY_WAIT_S,
    REDIS_CONNECT_TIMEOUT_S,
)
from worker.storage.target import storage_for

log = logging.getLogger(__name__)


class Node:
    """One node's engine (`run` it inside a `Shell`: what carries out its reports and states)."""

    def __init__(self, settings: Settings, name: str) -> None:
        # The account leases this engine holds: its ownership notes them, a submit checks them.
        holdings = Holdings(settings.mj_engine_lease_s)
        self.rt = Runtime.build(settings, redis_client(settings), holdings=holdings)
        self.pool = ThreadPoolExecutor(settings.mj_engine_threads, thread_name_prefix="mj-engine")
        self.timers = Timers(self.pool, lambda action: self.core.perform(action))
        # Finished jobs' files copied to the store, on threads of their own (MJ_STORAGE_URL).
        storage = storage_for(settings)
        self.store = StorePool(self.rt, storage) if storage is not None else None
        storer = self.store.soon if self.store is not None else None
        self.core = EngineCore(self.rt, self.timers, storer)
        self.ownership = Ownership(
            self.rt, name, lease_s=self.rt.timing.engine_lease_s, holdings=holdings
        )
        self.follower = Follower(self.rt, self.core, self.pool.submit)  # a new master: re-derive
        self.name = name
        self.stopped = threading.Event()
        self.failed = ""  # the thread whose death stopped the engine, if one did
        self._keep_now = threading.Event()  # accounts taken over (or a stop): keeper, at once
        # BLPOP holds its connection: a client of its own, whose reads outlast the wait.
        self._blocking = redis_for(
            settings.redis_target(),
            decode_responses=True,
            socket_timeout=ENGINE_HINT_WAIT_S + ENGINE_HINT_READ_MARGIN_S,
            socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
        )

    def run(self, shell: Shell) -> None:
        """Run until `stop()` (or a thread's death: `failed`), every action inside `shell`;
        then give every account back (another engine takes it)."""
        store = self.store
        bodies: dict[str, Callable[[], None]] = {
            "mj-timers": lambda: self.timers.run(shell.run),
            "mj-hints": self._hints,
            "mj-beats": self._beats,
            "mj-keeper": self._keeper,
        }
        if store is not None:
            bodies["mj-store"] = lambda: store.run(shell.run)
        threads = [
            threading.Thread(target=self._guarded(name, body), name=name, daemon=True)
            for name, body in bodies.items()
        ]
        for thread in threads:
            thread.start()
        log.info("engine %s: running (%s threads)", self.name, self.pool._max_workers)
        self.stopped.wait()
        self.timers.stop()
        if self.store is not None:
            self.store.stop()
        given = self.ownership.give_back_all()
        self.pool.shutdown(wait=True, cancel_futures=True)
        log.info("engine %s: stopped; gave back %s", self.name, ", ".join(given) or "nothing")

    def stop(self) -> None:
        """Ask `run` to end."""
        self.stopped.set()
        self._keep_now.set()

    def _guarded(self, name: str, body: Callable[[], None]) -> Callable[[], None]:
        """`body`, stopping the engine if it ends (by an error or not) before `stop()`."""

        def run() -> None:
            try:
                body()
            except BaseException:
                log.exception("engine %s: thread %s died", self.name, name)
            if not self.stopped.is_set():
                log.error("engine %s: thread %s ended; stopping the engine", self.name, name)
                self.failed = self.failed or name
                self.stopped.set()

        return run

    def _keeper(self) -> None:
        every = keep_every(self.rt)
        while not self.stopped.is_set():
            try:
                renew_slots(self.rt, sorted(self.core.owned))
            except (redis.RedisError, OSError) as exc:
                log.warning("engine %s: renewing slot leases failed (%s)", self.name, exc)
            self._keep_now.wait(every)
            self._keep_now.clear()

    def _beats(self) -> None:
        every = self.rt.timing.engine_beat_s
        scan_every, last_scan = self.rt.timing.stall_s, time.monotonic()
        while not self.stopped.is_set():
            try:
                taken, lost = self.ownership.beat()
            except (redis.RedisError, OSError) as exc:
                log.warning("engine %s: lease beat failed (%s)", self.name, exc)
                taken, lost = [], []
            for label in lost:
                self.core.drop(label)
                log.warning("engine %s: no longer holds %s", self.name, label)
            for label in taken:
                self.core.take(label)
                log.info("engine %s: took %s over", self.name, label)
            if taken:
                self._keep_now.set()
            for label in list(self.core.owned):
                if not self.ownership.holds(label):
                    self.core.drop(label)
            self.follower.check()
            if time.monotonic() - last_scan >= scan_every:
                last_scan = time.monotonic()
                for label in list(self.core.owned):
                    self.timers.later(Action(ActionKind.SCAN, label), 0.0)
            self.stopped.wait(every)

    def _hints(self) -> None:
        while not self.stopped.is_set():
            owned = sorted(self.core.owned)
            if not owned:
                self.stopped.wait(ENGINE_IDLE_WAIT_S)
                continue
            by_key = {self.rt.keys.wake(label): label for label in owned}
            try:
                got = self._blocking.blpop(list(by_key), timeout=ENGINE_HINT_WAIT_S)
                if got:
                    key, item = got
                    self.core.drain(by_key[str(key)], first=item)
            except (redis.RedisError, OSError) as exc:
                log.warning("engine %s: reading hints failed (%s)", self.name, exc)
                self.stopped.wait(ENGINE_RETRY_WAIT_S)


__all__ = ["Node"]
