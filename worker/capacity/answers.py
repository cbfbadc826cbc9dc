"""What the guard's calls answer: an acquire's outcome and a snapshot of one account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worker.text import text


@dataclass(frozen=True)
class AcquireResult:
    """Outcome of :meth:`SlotGuard.acquire`; ``woken`` lists OTHER jobs handed a slot."""

    granted: bool
    queued: bool
    cooldown_ms: int
    woken: list[str]
    position: int = 0  # place among the account's waiters when queued (1 = next)


@dataclass(frozen=True)
class Queued:
    """Outcome of :meth:`SlotGuard.enqueue`: the job holds a slot already, or its estimated
    place in the order served (1 = next); `free` when a slot is there for it now (its engine
    was hinted to fill); `capped` when its tenant is at its max_in_progress; `roomy`, for a job
    another account may take that waits, the accounts with a place their own line leaves."""

    holds: bool
    position: int
    free: bool
    capped: bool = False
    roomy: tuple[str, ...] = ()


class Woken(list[str]):
    """The ids a release or fill handed a place to, in order, and what else it learned:
    `spare` when a place is left and another account's line holds a job this one may take;
    `unblocked`, accounts whose waiters waited for a tenant now under its max_in_progress."""

    spare: bool = False
    unblocked: tuple[str, ...] = ()

    @classmethod
    def of(cls, reply: Any) -> Woken:
        """Decode `{spare, n, n labels, ids...}`."""
        values = [text(v) for v in reply or []]
        out = cls(values[2 + int(values[1] or 0) :] if values else [])
        if values:
            out.spare = values[0] == "1"
            out.unblocked = tuple(values[2 : 2 + int(values[1])])
        return out


@dataclass(frozen=True)
class GuardState:
    """Snapshot of one account: cap, live holders (ms left on lease), waiters, cooldown left,
    and the effective cap a 499 taught (None when none is known)."""

    cap: int
    holders: dict[str, int]
    waiters: list[str]
    cooldown_ms: int
    effective_cap: int | None = None


def check_job(job_id: str) -> None:
    """Reject empty ids early: an empty member would silently share one slot between jobs."""
    if not isinstance(job_id, str) or not job_id:
        raise ValueError(f"job_id must be a non-empty string, got {job_id!r}")


def ids_of(values: Any) -> list[str]:
    """Decode a list reply of ids."""
    return [text(v) for v in values or []]


__all__ = ["AcquireResult", "GuardState", "Queued", "Woken", "check_job", "ids_of"]
