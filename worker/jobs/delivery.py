"""A job's outcome reaches its caller exactly once: owed, claimed by one run, then delivered.

An ended job is *owed* (`undelivered`, a sorted set scored by when it was noted) from the very
compare-and-set that ends its record (`RecordStore.cas`, one script) until Celery has stored
the outcome where the caller looks. The report of an
owed job may be published more than once (the pump re-publishes what stays owed, two pumps may
overlap, a broker may deliver a message twice), so one run *claims* the delivery (a key with a
TTL and the run's token, set only while the job is owed) and the others end quietly: a
chain's callback fires once. A run killed after its claim leaves the job owed; the claim
lapses and the pump tries again.

A run that is only slow (its report does work of its own, a loaded machine) keeps its claim
alive while it works (`ReportClaim`: one thread per process renews every claim the process holds)
and checks, by its token, that it still holds the claim just before it returns (a run that
claimed a tenth of a claim's life ago or less knows it by its own clock, with no round trip):
a run that stalled past the claim's life returns nothing, and the run that took it over delivers.
A report runs as its task's run: in a pool process (the task's message re-published) or, for a
job the engine saw end, in the engine's own process through Celery's tracer
(`worker.adapter.report_here`); either way it takes the same claim.
What is left: Celery stores the returned outcome and sends the chain's next message after the
task returned; a run stalled longer than the claim's life left after that check (at least
nine tenths of a life) before `delivered` (which the task's `after_return` calls once Celery
stored the outcome) can be delivered twice.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

import redis

from worker.capacity.leases import Lease, new_token
from worker.lua import script

if TYPE_CHECKING:
    from worker.jobs.runtime import Runtime

log = logging.getLogger(__name__)
# KEYS: undelivered, claim.  ARGV: job_id, claim ttl (ms), token.  1 when this run must deliver.
_CLAIM = script("jobs/delivery/claim.lua")
# KEYS: undelivered, claim, outcome.  ARGV: job_id.  1 when noted (the outcome is stored here).
_DELIVERED = script("jobs/delivery/delivered.lua")
RENEWS_PER_CLAIM = 3  # a claim is renewed this many times per its life while its run works
# A claim taken less than this share of its life ago is still this run's, by this process's own
# clock (it was set for a whole life after the moment noted): its fence needs no round trip.
FRESH_SHARE = 0.1


def owed(rt: Runtime, job_id: str) -> bool:
    """True while an ended job's outcome has not been stored where its caller looks."""
    return rt.redis.zscore(rt.keys.undelivered, job_id) is not None


def claim(rt: Runtime, job_id: str, ttl_s: float) -> str:
    """The token of the one run that reports an owed job now; "" if it is not owed any more
    or another run reports it (for `ttl_s`, after which a run killed mid-report is retried)."""
    token = new_token()
    keys = [rt.keys.undelivered, rt.keys.delivery(job_id)]
    args: list[str | int] = [job_id, max(1, round(ttl_s * 1000)), token]
    return token if int(rt.redis.register_script(_CLAIM)(keys=keys, args=args)) else ""


def delivered(rt: Runtime, job_id: str, outcome_key: str | bytes | None = None) -> bool:
    """The job's outcome is stored where its caller looks (Celery's result backend): it is
    owed no more. False when `outcome_key` (Celery's result key of the job) says otherwise.

    The key is read on the same Redis, in the same call: if it still shows the caller a state
    in flight (WAITING, SUBMITTED), the store went to another master (two masters for a moment
    during a failover, a client still on the old one), and noting the delivery here would
    leave the caller waiting forever. Such a job stays owed and the pump reports it again.
    With replicas wanted, the note waits for them too (the stored result and the callbacks
    published before it are then on a replica as well): a failover right after a delivery
    must not make the pump deliver it again.
    """
    keys = [rt.keys.undelivered, rt.keys.delivery(job_id)]
    pipe = rt.redis.pipeline(transaction=False)
    if outcome_key is None:
        pipe.zrem(keys[0], job_id)
        pipe.delete(keys[1])
    elif not rt.durability.needed(rt.redis):  # one call (a script in a pipeline costs two)
        return _noted(job_id, rt.redis.register_script(_DELIVERED)([*keys, outcome_key], [job_id]))
    else:
        rt.redis.register_script(_DELIVERED)([*keys, outcome_key], [job_id], client=pipe)
    acks = rt.durability.run(pipe)
    if outcome_key is not None and not _noted(job_id, acks.replies[0]):
        return False
    if not acks.enough:
        log.warning(
            "job %s: delivered, but %s of %s replicas acknowledged it: a failover now would "
            "deliver it again",
            job_id,
            acks.acked,
            acks.wanted,
        )
    return True


def _noted(job_id: str, reply: object) -> bool:
    """The delivery script's reply, with a warning when the job stays owed."""
    if int(str(reply)):
        return True
    log.warning(
        "job %s: this Redis shows its caller no outcome yet (it was stored on another master?); "
        "it stays owed and is reported again",
        job_id,
    )
    return False


class ReportClaim:
    """One run's report of an owed job: `with ReportClaim(...) as report:` claims it (`token`, ""
    when another run reports it), keeps the claim alive until the block ends, and
    `still_ours()` fences the outcome just before the run returns it."""

    def __init__(self, rt: Runtime, job_id: str, ttl_s: float) -> None:
        self.rt, self.job_id, self.ttl_s = rt, job_id, ttl_s
        self.lease = Lease(rt.redis, rt.keys.delivery(job_id))
        self.token = ""
        self.renew_at = 0.0  # when the keeper renews it next (monotonic)
        self.sure_until = 0.0  # until when the claim surely holds, unasked (monotonic)

    def __enter__(self) -> ReportClaim:
        asked_at = time.monotonic()  # before the claim is set: its life runs from later
        self.token = claim(self.rt, self.job_id, self.ttl_s)
        if self.token:
            self.sure_until = asked_at + self.ttl_s * FRESH_SHARE
            self.renew_at = asked_at + self.ttl_s / RENEWS_PER_CLAIM
            _KEEPER.keep(self)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _KEEPER.drop(self)

    def renew(self) -> bool:
        """Extend the claim for another life; False if this run lost it."""
        self.renew_at = time.monotonic() + self.ttl_s / RENEWS_PER_CLAIM
        return bool(self.token) and self.lease.renew(self.token, self.ttl_s)

    def still_ours(self) -> bool:
        """Whether this run still holds the claim. A claim taken moments ago (a tenth of its
        life: a report in the engine takes milliseconds) surely does, and Celery's store of
        the outcome has most of a claim's life left; an older one is renewed once more, which
        gives the store a whole life, or found lost."""
        if self.token and time.monotonic() < self.sure_until:
            return True
        if self.renew():
            return True
        log.warning("job %s: its report lost its claim; the run that took it delivers", self.job_id)
        return False


class _Keeper:
    """The thread that renews the claims of the reports running in this process."""

    def __init__(self) -> None:
        self._held: set[ReportClaim] = set()
        self._cond = threading.Condition()
        self._pid = 0  # the process whose thread runs (a forked child starts its own)

    def keep(self, report: ReportClaim) -> None:
        with self._cond:
            self._held.add(report)
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="mj-report-claims", daemon=True).start()
            self._cond.notify()

    def drop(self, report: ReportClaim) -> None:
        with self._cond:
            self._held.discard(report)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._held:
                    self._cond.wait()
                now = time.monotonic()
                due = [r for r in self._held if r.renew_at <= now]
                if not due:
                    self._cond.wait(min(r.renew_at for r in self._held) - now)
                    continue
            for report in due:
                try:
                    report.renew()
                except (redis.RedisError, OSError) as exc:  # the next round tries again
                    log.warning(
                        "job %s: renewing its report's claim failed (%s)", report.job_id, exc
                    )


_KEEPER = _Keeper()


__all__ = ["ReportClaim", "claim", "delivered", "owed"]
