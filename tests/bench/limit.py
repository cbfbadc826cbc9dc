"""The latency-aware limit: the makespan of a perfect client that pays TTAPI's round trips.

A fetch reads the job's state at the midpoint of its round trip, and a submit creates the job at
the midpoint of its own. So no client can hand a slot over faster than half a fetch round trip
plus half a submit round trip (the hand-off cost). The limit is the makespan of a perfect client
on the same jobs: per account, the jobs taken in the order TTAPI created them, the account's
first `cap` jobs starting at the run's first creation, and every later job on the slot that
frees first, after the hand-off cost. The figure is that makespan divided by the measured one
(first creation to last end at TTAPI). Without latency the cost is 0, and for equal durations
the limit is the physical limit (analysis.physical_limit).

Everything works on the simulator's job stats (`label`, `submitted_at` = creation,
`finished_at`), so it covers runs with and without latency alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tests.bench.analysis import Hold, Job, by_account, greedy_makespan


def handoff_cost(fetch_round_trip_s: float, submit_round_trip_s: float) -> float:
    """The fastest possible hand-off: half a fetch round trip plus half a submit round trip."""
    return fetch_round_trip_s / 2 + submit_round_trip_s / 2


def handoff_cost_of(stats: Mapping[str, Any]) -> float:
    """The hand-off cost of a run, from the simulator's stats (its `faults` latency knobs)."""
    faults = stats.get("faults") or {}
    fetch = float(faults.get("latency_fetch_s") or 0.0)
    submit = float(faults.get("latency_submit_s") or 0.0)
    return handoff_cost(fetch, submit)


def _ended(jobs: Iterable[Job]) -> list[Job]:
    return [
        j for j in jobs if j.get("submitted_at") is not None and j.get("finished_at") is not None
    ]


def ttapi_span(jobs: Iterable[Job]) -> float:
    """The measured makespan at TTAPI: the run's first creation to its last end (0 if none)."""
    done = _ended(jobs)
    if not done:
        return 0.0
    return max(j["finished_at"] for j in done) - min(j["submitted_at"] for j in done)


def latency_aware_limit(
    jobs: Iterable[Job], cap: int, handoff_s: float, held: Sequence[Hold] = ()
) -> float:
    """The perfect client's makespan on these jobs (seconds from the run's first creation).

    `held`: `(until, slots)` of another client on each account, `until` on the jobs' clock;
    those slots free at `until` and pay no hand-off cost.
    """
    done = _ended(jobs)
    if not done:
        return 0.0
    origin = min(j["submitted_at"] for j in done)
    moved_held = [(max(0.0, until - origin), slots) for until, slots in held]
    limit = 0.0
    for group in by_account(done).values():
        group.sort(key=lambda j: j["submitted_at"])
        times = [j["finished_at"] - j["submitted_at"] for j in group]
        limit = max(limit, greedy_makespan(times, cap, moved_held, handoff_s))
    return limit


def pooled_latency_aware_limit(
    jobs: Iterable[Job], cap: int, accounts: int, handoff_s: float
) -> float:
    """The makespan of a perfect client that may put any job on any account: every job, in
    the order TTAPI created them, on the first of `accounts` × `cap` places to free, a
    hand-off after it frees (the first `accounts` × `cap` start at the first creation).

    Never above `latency_aware_limit`, which keeps each job on the account it ran on: the
    gap between the two is what placement cost (issue 25's pool goal is measured on this)."""
    done = _ended(jobs)
    if not done:
        return 0.0
    done.sort(key=lambda j: j["submitted_at"])
    times = [j["finished_at"] - j["submitted_at"] for j in done]
    return greedy_makespan(times, cap * max(accounts, 1), (), handoff_s)


def latency_share(limit_s: float, span_s: float) -> float:
    """limit / measured span: 1.0 means no client could have been faster on these jobs."""
    return limit_s / span_s if span_s > 0 else float("nan")
