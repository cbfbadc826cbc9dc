"""How far TTAPI's clock is from ours, learned from the submits it accepts.

Reconcile looks in TTAPI's history for the job a lost submit may have made, by the `created_at`
TTAPI's own clock gave it; our send time comes from Redis's clock. With TTAPI's clock 10 s
behind, the job is dated 10 s before our send. Every accepted submit's answer carries TTAPI's
`Date` (whole seconds), its clock near the middle of the exchange: the offset from Redis's clock
there is kept per account (one write per accepted submit). A history row is a candidate from
our send, moved by that offset, less `SKEW_MARGIN_S`; with nothing learned yet, from
`UNKNOWN_SKEW_S` before it. A wide window is safe because a TTAPI job is only ever taken by one
record (`worker.jobs.claims`), and the nearest to the expected time is tried first.
"""

from __future__ import annotations

from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.policy import SKEW_MARGIN_S, SKEW_TTL_S, UNKNOWN_SKEW_S

DATE_RESOLUTION_S = 1.0  # an HTTP Date drops the fraction of its second


def learned(answered_at: float | None, sent_at: float, now: float) -> tuple[str, int] | None:
    """TTAPI's clock offset taught by a submit sent at `sent_at` and answered at `now` (both
    Redis's clock) whose answer said `answered_at` (its Date), as the value to keep under
    `keys.skew` and its ttl; None when the answer had no Date. The submit's answer writes it
    in the script that records the answer (`RecordStore.move_claimed`)."""
    if answered_at is None or not sent_at:
        return None
    offset = answered_at + DATE_RESOLUTION_S / 2 - (sent_at + now) / 2
    return f"{offset:.3f}", SKEW_TTL_S


def offset(rt: Runtime, label: str) -> float | None:
    """TTAPI's clock minus ours on `label`, as last learned (None: not known)."""
    raw = rt.redis.get(rt.keys.skew(label))
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def window(rt: Runtime, rec: JobRecord) -> tuple[float, float]:
    """By TTAPI's clock (epoch seconds): when the job `rec`'s last send made would be dated,
    and the earliest date a candidate for it may carry."""
    learned = offset(rt, rec.account)
    expected = rec.sent_at + (learned or 0.0)
    margin = SKEW_MARGIN_S if learned is not None else UNKNOWN_SKEW_S
    # Never later than with clocks that agree: a Date from a proxy's clock misleads no one.
    return expected, min(expected, rec.sent_at) - margin


__all__ = ["learned", "offset", "window"]
