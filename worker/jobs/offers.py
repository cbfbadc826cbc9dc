"""A work-conserving pool: a job another account may take never waits while one has room.

A job is queued in its line (its tenant and priority class, `worker.capacity.tenants.Line`) on
its account. When it has to wait and is *loose* (no pinned account, not a follow-up), and the
guard knows accounts with a place their own line leaves (`Queued.roomy`), one of them is asked
to fill: its own line being empty, it takes a waiter from another account's line
(`worker.jobs.stealing`). A release or fill that leaves a place and sees such waiters elsewhere
(`Woken.spare`) asks its own account's engine the same; one that brought a tenant back under
its `max_in_progress` asks the accounts whose waiters waited for that (`Woken.unblocked`).
Every ask is a `Fill` effect (a timer of the engine holding that account, a hint from anywhere
else): lost, it costs the time to the next scan, never a job.
"""

from __future__ import annotations

from typing import Any

from worker.capacity.answers import Queued
from worker.capacity.lanes import VIDEO_SUFFIX
from worker.capacity.tenants import Line
from worker.jobs.effects import Effects, Fill
from worker.jobs.record import STORED_AS
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime

# What `line_of` reads of a record, as stored (for reads of a few fields: `RecordStore.peek`).
LINE_FIELDS = ("tenant", STORED_AS["priority"], "pinned")


def line_of(rt: Runtime, rec: JobRecord) -> Line:
    """The line the job waits in: its tenant's bucket, its priority class, and whether another
    account may take it (not pinned; a follow-up is pinned to its parent's account)."""
    return rt.guard.book.line(rec.tenant, rec.priority, loose=not rec.pinned)


def enqueue(rt: Runtime, rec: JobRecord, label: str) -> tuple[Queued, Effects]:
    """Queue the job on `label` in its line; if it has to wait and another account may take
    it, ask an account with room to fill (it takes the job, or another like it)."""
    line = line_of(rt, rec)
    queued = rt.guard.enqueue(label, rec.job_id, priority=rec.urgency, line=line)
    if line.loose and not queued.holds and not queued.free:
        for other in queued.roomy:
            if _may_take(rt, label, other):
                return queued, [Fill(other)]
    return queued, []


def after_handoff(rt: Runtime, label: str, woken: Any) -> Effects:
    """What a release or fill of `label` learned besides the ids it woke: a place left while
    another line holds a job this account may take (its engine fills, and takes one); accounts
    whose waiters waited for a tenant now under its cap (their engines fill)."""
    fx = unblock(rt, label, woken)
    if getattr(woken, "spare", False):
        fx.append(Fill(label))
    return fx


def unblock(rt: Runtime, label: str, woken: Any) -> Effects:
    """Have the accounts whose waiters waited for a tenant now under its cap fill."""
    return [
        Fill(other)
        for other in getattr(woken, "unblocked", ())
        if other != label and rt.pool.configured(other)
    ]


def _may_take(rt: Runtime, label: str, other: str) -> bool:
    """Whether account (or lane) `other` may take a job waiting on `label`: another one of the
    same kind of lane, configured here, in rotation."""
    if other == label or other.endswith(VIDEO_SUFFIX) != label.endswith(VIDEO_SUFFIX):
        return False
    return rt.pool.configured(other) and rt.pool.disabled_reason(other) is None


__all__ = ["LINE_FIELDS", "after_handoff", "enqueue", "line_of", "unblock"]
