"""What a 499 or a 429 on submit does to an account's guard, and when to look again.

A 499 means someone else runs jobs on the same key: the guard learns the slots we still hold as
the account's *effective cap* and probes one slot above it at a rate tied to the expected job
duration (the other client's jobs end about as fast as ours). A 429 means we are too fast: a
cooldown, TTAPI's Retry-After when it sent one, else doubled by each 429 in a row.
"""

from __future__ import annotations

from worker.jobs.backoff import Retry
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.policy import PROBE_FRACTION, PROBE_MAX_S, REFUSALS_TTL_S
from worker.ttapi import errors
from worker.ttapi.requests import mode_of


def requeue(
    rt: Runtime, rec: JobRecord, label: str, exc: errors.APIStatusError
) -> tuple[int, float]:
    """Put the refused job first in line; return its place and when to fill the account."""
    if isinstance(exc, errors.QueueFull):
        expected = rt.durations.expected(label, mode_of(rec.params, rec.parent), rec.kind)
        gap, lapse = probe_timing(expected, rt.timing.cooldown_s)
        return rt.guard.occupied(label, rec.job_id, probe_every_s=gap, lapse_s=lapse), gap
    wait = cooldown(rt, label, getattr(exc, "retry_after", None))
    return rt.guard.backoff(label, rec.job_id, wait), wait


def probe_timing(expected_s: float, floor_s: float) -> tuple[float, float]:
    """The gap between probes (a tenth of a job, within [floor_s, PROBE_MAX_S]) and how long
    a 499 is remembered (about one job, and never less than two gaps)."""
    gap = min(max(expected_s * PROBE_FRACTION, floor_s), PROBE_MAX_S)
    return gap, max(expected_s, 2 * gap)


def cooldown(rt: Runtime, label: str, retry_after: float | None) -> float:
    """A 429's cooldown: Retry-After (bounded) when sent; else the base cooldown doubled by
    each 429 in a row, up to 64× (a success resets the streak)."""
    said = rt.timing.retry_after(retry_after)
    if said:
        return max(said, rt.timing.cooldown_s)
    key = rt.keys.refusals(label)
    streak = int(rt.redis.incr(key))
    rt.redis.expire(key, REFUSALS_TTL_S)
    return rt.timing.backoff(Retry.COOLDOWN, streak - 1)


def unresolved(
    rt: Runtime, rec: JobRecord, label: str, lapse_s: float, *, holder: str = ""
) -> list[str]:
    """The job ended for its caller, but TTAPI may still run it for up to `lapse_s`: its slot
    (or `holder`'s, a place held for it) becomes occupancy that probes (a tenth of a job apart)
    can clear; returns ids woken."""
    expected = rt.durations.expected(label, mode_of(rec.params, rec.parent), rec.kind)
    gap, _ = probe_timing(expected, rt.timing.cooldown_s)
    return rt.guard.unresolved(label, holder or rec.job_id, probe_every_s=gap, lapse_s=lapse_s)
