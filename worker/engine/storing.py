"""The engine's storage pool: finished jobs' files copied to the store on threads of their own.

Copies are slow when the store is (a clip, a store far away or down), so they never run on the
engine's pool of TTAPI calls, where they would starve polls and hand-offs: STORE_THREADS
threads of their own, fed by timers of their own (a failed try comes back after its backoff).

One engine copies a job at a time: it takes the job's claim (`mj:store:<job>`, a token with a
TTL of one engine lease) before its first try, keeps it through the retries, renews it every
third of a lease from a thread of its own while it holds it, and gives it back when the copy
ended. An engine killed mid-copy stops renewing: within a lease the claim lapses, and the
pump hands the job to the engine of its account again (`worker.jobs.storing.revive`), whose
try writes the same names and whose end publishes the report once.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from worker.capacity.leases import Lease, new_token
from worker.engine.actions import Action, ActionKind, Scheduler
from worker.engine.timers import Runner, Timers
from worker.jobs.download import AddressGuard
from worker.jobs.download.transport import guarded_session
from worker.jobs.effects import Effects
from worker.jobs.runtime import Runtime
from worker.policy import DOWNLOAD_READ_TIMEOUT_S, STORE_THREADS
from worker.storage.attempt import Tried, attempt
from worker.storage.copy import Reader
from worker.storage.target import Storage

log = logging.getLogger(__name__)


class StorePool:
    """Copies of this node's engine: `soon(job_id)` from any thread, `run` on one of its own;
    each try runs inside the runner given to `run` (the node's shell), which publishes the
    report a copy's end returns."""

    def __init__(
        self,
        rt: Runtime,
        storage: Storage,
        threads: int = STORE_THREADS,
        scheduler: Scheduler | None = None,
    ) -> None:
        self.rt = rt
        self.storage = storage
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="mj-store")
        self.timers = Timers(self.pool, self.perform)
        # Where tries wait for their time: these timers, or a test's step heap.
        self.scheduler: Scheduler = scheduler or self.timers
        self.ttl_s = rt.timing.engine_lease_s
        self.held: dict[str, tuple[Lease, str]] = {}  # job id → its claim and our token
        self._lock = threading.Lock()
        self._local = threading.local()
        self.stopped = threading.Event()
        self.tries: list[Tried] = []  # kept for the bench and tests (bounded: see `perform`)

    def soon(self, job_id: str) -> None:
        """Copy `job_id`'s files as soon as a storage thread is free."""
        self.scheduler.later(Action(ActionKind.STORE, job_id), 0.0)

    def run(self, runner: Runner) -> None:
        """Hand due copies to the pool and renew the claims held, until `stop`."""
        renewer = threading.Thread(target=self._renew, name="mj-store-claims", daemon=True)
        renewer.start()
        self.timers.run(runner)

    def stop(self) -> None:
        """Stop taking copies; claims held lapse (another engine takes the jobs over)."""
        self.stopped.set()
        self.timers.stop()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def perform(self, action: Action) -> Effects:
        """One try at one job: claim it (or leave it to the engine that has it), try, then
        come back after the backoff or give the claim back; the effects of its end."""
        job_id = action.arg
        try:
            if not self._claim(job_id):
                return []
            tried = attempt(self.rt, self.storage, job_id, self._reader())
            self.tries = [*self.tries[-999:], tried]
            if tried.retry_in is not None and not self.stopped.is_set():
                self.scheduler.later(Action(ActionKind.STORE, job_id), tried.retry_in)
                return tried.effects
            self._give_back(job_id)
            return tried.effects
        except Exception:
            log.exception("storing %s failed; the pump hands it over again", job_id)
            self._give_back(job_id)
            return []

    def _reader(self) -> Reader:
        """This thread's CDN reader (a guarded session keeps its connections per thread)."""
        reader = getattr(self._local, "reader", None)
        if reader is None:
            settings = self.rt.settings
            session = guarded_session(
                AddressGuard(allow_private=settings.mj_download_allow_private)
            )
            reader = self._local.reader = Reader(
                session,
                (settings.mj_http_connect_timeout_s, DOWNLOAD_READ_TIMEOUT_S),
                settings.mj_download_max_bytes,
            )
        return reader

    def _claim(self, job_id: str) -> bool:
        with self._lock:
            if job_id in self.held:
                return True  # a retry of ours (or the same job handed over twice)
        lease = Lease(self.rt.redis, self.rt.keys.store_claim(job_id))
        token = new_token()
        if not lease.take(token, self.ttl_s):
            return False
        with self._lock:
            self.held[job_id] = (lease, token)
        return True

    def _give_back(self, job_id: str) -> None:
        with self._lock:
            found = self.held.pop(job_id, None)
        if found is not None:
            lease, token = found
            lease.give_back(token)

    def _renew(self) -> None:
        every = self.ttl_s / 3
        while not self.stopped.wait(every):
            with self._lock:
                held = list(self.held.items())
            for job_id, (lease, token) in held:
                try:
                    if not lease.renew(token, self.ttl_s):
                        log.warning("storing %s: lost its claim (stalled past it?)", job_id)
                        with self._lock:
                            self.held.pop(job_id, None)
                except Exception as exc:  # Redis away: the next beat tries again
                    log.warning("storing %s: renewing its claim failed (%s)", job_id, exc)


__all__ = ["StorePool"]
