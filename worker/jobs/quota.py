"""`daily_jobs`: how many jobs a tenant may start per UTC day, counted once per job.

A job is counted when its record is first written (its entry), by its id in a set per tenant
bucket and day: a redelivered entry, a resubmit after a lost answer, a retry after a refusal
never count it again, as none of them writes a new record. A job past the limit ends FAILURE
at once, before any record and any HTTP call, with an error that names the tenant and the
limit. The set lives beside the guard in Redis, so the quota holds for any number of nodes.
"""

from __future__ import annotations

import time

from worker.capacity import metrics
from worker.jobs.runtime import Runtime
from worker.lua import script
from worker.policy import TENANT_DAY_TTL_S

# KEYS: the day's set.  ARGV: job id, limit, ttl s.  1 if the job is (now, or already) counted.
_ADMIT = script("jobs/quota/admit.lua")


def spent(rt: Runtime, tenant: str) -> bool:
    """Whether the tenant's bucket has used its `daily_jobs` this UTC day (a read: it counts
    nothing, so asking before a job is made costs the tenant nothing)."""
    book = rt.guard.book
    bucket = book.bucket(tenant)
    most = book.settings(bucket).daily_jobs
    if not most:
        return False
    day = time.strftime("%Y%m%d", time.gmtime(rt.clock()))
    return int(rt.redis.scard(rt.keys.tenant_day(bucket, day))) >= most


def admit(rt: Runtime, job_id: str, tenant: str) -> str | None:
    """Count the job against its tenant's `daily_jobs`; None if it may go, else why not."""
    book = rt.guard.book
    bucket = book.bucket(tenant)
    most = book.settings(bucket).daily_jobs
    if not most:
        return None
    day = time.strftime("%Y-%m-%d", time.gmtime(rt.clock()))
    key = rt.keys.tenant_day(bucket, day.replace("-", ""))
    counted = rt.redis.register_script(_ADMIT)(keys=[key], args=[job_id, most, TENANT_DAY_TTL_S])
    if int(counted):
        return None
    metrics.count_tenant_outcome(rt.redis, bucket, "failed", keys=rt.keys)
    who = f"tenant {tenant}" if bucket == tenant else f"tenant {tenant} (counted as {bucket})"
    return (
        f"{who} reached its daily_jobs limit of {most} for {day} (UTC); "
        "the job was not sent to TTAPI"
    )


__all__ = ["admit", "spent"]
