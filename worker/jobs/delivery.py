"""A job's outcome reaches its caller exactly once: owed, claimed by one run, then delivered.

An ended job is *owed* (`undelivered`, a sorted set scored by when it was noted) from the very
compare-and-set that ends its record (`RecordStore.cas`, one script) until Celery has stored
the outcome where the caller looks. The report of an
owed job may be published more than once (the pump re-publishes what stays owed, two pumps may
overlap, a broker may deliver a message twice), so one run *claims* the delivery (a key with a
TTL, set only while the job is owed) and the others end quietly: a chain's callback fires once.
A run killed after its claim leaves the job owed; the claim lapses and the pump tries again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from worker.lua import script

if TYPE_CHECKING:
    from worker.jobs.runtime import Runtime

# KEYS: undelivered, claim.  ARGV: job_id, claim ttl (ms).  1 when this run must deliver.
_CLAIM = script("jobs/delivery/claim.lua")
log = logging.getLogger(__name__)


def owed(rt: Runtime, job_id: str) -> bool:
    """True while an ended job's outcome has not been stored where its caller looks."""
    return rt.redis.zscore(rt.keys.undelivered, job_id) is not None


def claim(rt: Runtime, job_id: str, ttl_s: float) -> bool:
    """True for the one run that reports an owed job now; False if it is not owed any more or
    another run reports it (for `ttl_s`, after which a run killed mid-report is retried)."""
    script = rt.redis.register_script(_CLAIM)
    keys = [rt.keys.undelivered, rt.keys.delivery(job_id)]
    return bool(int(script(keys=keys, args=[job_id, max(1, round(ttl_s * 1000))])))


def delivered(rt: Runtime, job_id: str) -> None:
    """The job's outcome is stored where its caller looks (Celery's result backend).

    With replicas wanted, the note waits for them too (the stored result and the callbacks
    published before it are then on a replica as well): a failover right after a delivery
    must not make the pump deliver it again.
    """
    pipe = rt.redis.pipeline(transaction=False)
    pipe.zrem(rt.keys.undelivered, job_id)
    pipe.delete(rt.keys.delivery(job_id))
    acks = rt.durability.run(pipe)
    if not acks.enough:
        log.warning(
            "job %s: delivered, but %s of %s replicas acknowledged it: a failover now would "
            "deliver it again",
            job_id,
            acks.acked,
            acks.wanted,
        )


__all__ = ["claim", "delivered", "owed"]
