"""Pure analysis of a benchmark run: physical limits, utilisation, hand-offs, slots over time.

Everything here works on plain data (the simulator's `stats()["jobs"]` values: `label`,
`submitted_at`, `finished_at`, `fetches`, times in seconds on the simulator's clock) and starts
no server, so the unit tests cover it directly.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Job = Mapping[str, Any]
#: `(until_s, slots)`: another client holds `slots` places of the account until `until_s`.
Hold = tuple[float, int]


def durations(jobs: Iterable[Job]) -> list[float]:
    """Each finished job's time at TTAPI (finished_at - submitted_at), in submit order."""
    done = [
        j for j in jobs if j.get("finished_at") is not None and j.get("submitted_at") is not None
    ]
    done.sort(key=lambda j: j["submitted_at"])
    return [j["finished_at"] - j["submitted_at"] for j in done]


def by_account(jobs: Iterable[Job]) -> dict[str, list[Job]]:
    """Jobs grouped by account label (sorted labels)."""
    groups: dict[str, list[Job]] = defaultdict(list)
    for job in jobs:
        groups[str(job.get("label", ""))].append(job)
    return dict(sorted(groups.items()))


def work_bound(times: Sequence[float], cap: int) -> float:
    """A lower bound on the makespan of jobs with these durations on `cap` slots."""
    if not times:
        return 0.0
    return max(sum(times) / cap, max(times))


def greedy_makespan(
    times: Sequence[float], cap: int, held: Sequence[Hold] = (), handoff_s: float = 0.0
) -> float:
    """Makespan when each job, in order, starts the moment a slot is free (list scheduling).

    `held`: slots another client occupies from time 0 until the given time. With equal
    durations this is the optimum: e.g. 40 jobs of 2 s, cap 10, 7 held until 8 s → 3 slots run
    4 waves (12 jobs by 8 s), then 28 jobs on 10 slots take 3 waves more: 14 s.
    `handoff_s`: a slot one of these jobs frees takes the next job only this long after its end
    (slots free at the start, or when the other client lets go, pay nothing).
    """
    free_at = [0.0] * cap
    for until, slots in held:
        for i in range(min(slots, cap)):
            free_at[i] = max(free_at[i], until)
    heapq.heapify(free_at)
    end = 0.0
    for t in times:
        start = heapq.heappop(free_at)
        heapq.heappush(free_at, start + t + handoff_s)
        end = max(end, start + t)
    return end


def physical_limit(
    jobs: Iterable[Job], cap: int, held: Sequence[Hold] = (), accounts: int | None = None
) -> float:
    """The run's physical limit for the durations TTAPI really used.

    Without `held`: max(total job time / (accounts × cap), longest job): any job may go to
    any account, so an uneven spread over the accounts is the runner's own loss (`accounts`:
    how many there are; default: those the jobs ran on). With `held`
    (another client on the account): the slowest account's greedy schedule, which is exact for
    equal durations.
    """
    groups = by_account(jobs)
    if not held:
        times = [t for group in groups.values() for t in durations(group)]
        return work_bound(times, cap * max(accounts or len(groups), 1)) if times else 0.0
    limits = [greedy_makespan(durations(group), cap, held) for group in groups.values()]
    return max(limits, default=0.0)


def utilisation(limit: float, makespan: float) -> float:
    """limit / makespan: 1.0 means the run was as fast as the slots allow."""
    return limit / makespan if makespan > 0 else float("nan")


def handoff_gaps(
    jobs: Iterable[Job],
    cap: int,
    releases: Sequence[tuple[float, int]] = (),
    end: str = "finished_at",
) -> list[float]:
    """Seconds from each freed slot to the submit that took it, over all accounts.

    Per account the first `cap` places are free from the start (minus `releases`' slots, which
    another client holds until the given time and then frees). Each job end frees a place; each
    submit takes the earliest freed place still open. With no releases this is exactly the k-th
    end → (cap+k)-th submit. Ends that nobody took (the backlog ran out) give no gap. `end`
    names the job's field that frees its place: `seen_end_at` (the first fetch that saw the job
    ended) leaves out how late the worker noticed, and so measures the hand-off itself.
    """
    return [gap for _, gap in handoffs(jobs, cap, releases, end)]


def handoffs(
    jobs: Iterable[Job],
    cap: int,
    releases: Sequence[tuple[float, int]] = (),
    end: str = "finished_at",
) -> list[tuple[float, float]]:
    """`handoff_gaps` with when each place was freed: `(freed_at, gap)` in the order taken."""
    out: list[tuple[float, float]] = []
    for group in by_account(jobs).values():
        events: list[tuple[float, int, int]] = []  # (time, order: frees before takes, slots)
        events += [(j[end], 0, 1) for j in group if j.get(end) is not None]
        events += [(t, 0, n) for t, n in releases]
        events += [(j["submitted_at"], 1, 0) for j in group if j.get("submitted_at") is not None]
        initial = cap - sum(n for _, n in releases)
        freed: deque[float] = deque()
        for t, order, slots in sorted(events):
            if order == 0:
                freed.extend([t] * slots)
            elif initial > 0:
                initial -= 1
            elif freed:
                at = freed.popleft()
                out.append((at, t - at))
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def slots_series(jobs: Iterable[Job]) -> list[tuple[float, int]]:
    """Slots in use over time as steps `(t, in_use_from_t)`, starting at (0, 0).

    Ends at the same instant as starts count first, so a hand-off at one instant shows no spike.
    """
    edges = [(j["submitted_at"], 1) for j in jobs if j.get("submitted_at") is not None]
    edges += [(j["finished_at"], -1) for j in jobs if j.get("finished_at") is not None]
    series = [(0.0, 0)]
    live = 0
    for t, step in sorted(edges):
        live += step
        if series[-1][0] == t:
            series[-1] = (t, live)
        else:
            series.append((t, live))
    return series


def rebase(jobs: Iterable[Job], origin: float) -> list[dict[str, Any]]:
    """Copies of `jobs` with their times moved so that `origin` (e.g. the first send) is 0."""
    moved = []
    for job in jobs:
        copy = dict(job)
        for name in ("submitted_at", "started_at", "finished_at"):
            if copy.get(name) is not None:
                copy[name] = round(copy[name] - origin, 6)
        moved.append(copy)
    return moved


def fetches_per_job(jobs: Iterable[Job]) -> float:
    """Mean `fetch` calls per job."""
    counts = [int(j.get("fetches", 0)) for j in jobs]
    return sum(counts) / len(counts) if counts else 0.0
