"""The slot leases of the jobs an engine drives, renewed on a thread of their own.

A slot's lease outlives its job many times over, so only a dead job's slot ever lapses. The
engine's scan renews leases too, but it runs on the pool of threads that also waits on 30 s
HTTP calls: behind a starved pool a job in flight would lose its slot, and the next fill would
hand it to another job (the cap over-admits). The keeper reads every holder of the accounts
the engine holds and renews the live ones that have spent half their lease, in three round
trips whatever their number; holders whose job ended are left to the scan, which reaps them.
"""

from __future__ import annotations

from worker.jobs.record import TERMINAL, RecordState
from worker.jobs.runtime import Runtime
from worker.policy import LEASE_RENEW_LEFT


def renew_slots(rt: Runtime, labels: list[str]) -> int:
    """Renew the half-spent slot leases of live jobs on `labels`; how many were renewed."""
    if not labels:
        return 0
    held = rt.guard.leases(labels)
    recs = rt.records.peek([j for holders in held.values() for j in holders], ("state", "account"))
    half_ms = LEASE_RENEW_LEFT * 1000 * rt.timing.lease_s
    due = []
    for label, holders in held.items():
        for job_id, ms_left in holders.items():
            rec = recs.get(job_id)
            if rec is None or rec.account != label or rec.state in TERMINAL:
                continue
            if 0 < ms_left < half_ms:  # a renew confirms a probe only once TTAPI accepted it
                due.append((label, job_id, rec.state == RecordState.SUBMITTED))
    return sum(rt.guard.renew_all(due))


def keep_every(rt: Runtime) -> float:
    """Seconds between two rounds: three rounds to each half-spent lease, so one or two may
    be missed (Redis away) before any live job's slot lapses."""
    return rt.timing.lease_s * LEASE_RENEW_LEFT / 3


__all__ = ["keep_every", "renew_slots"]
