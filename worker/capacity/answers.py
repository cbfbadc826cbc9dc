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
    """Outcome of :meth:`SlotGuard.enqueue`: the job holds a slot already, or its place in line
    (1 = next); `free` when a slot is there for it now (its engine was hinted to fill)."""

    holds: bool
    position: int
    free: bool


@dataclass(frozen=True)
class GuardState:
    """Snapshot of one account: cap, live holders (ms left on lease), waiters, cooldown left,
    and the effective cap a 499 taught (None when none is known)."""

    cap: int
    holders: dict[str, int]
    waiters: list[str]
    cooldown_ms: int
    effective_cap: int | None = None


def ids_of(values: Any) -> list[str]:
    """Decode a list reply of ids."""
    return [text(v) for v in values or []]


__all__ = ["AcquireResult", "GuardState", "Queued", "ids_of"]
