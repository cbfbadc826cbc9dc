"""The mixed-callers scenarios: who asks, and how urgently, on one account of 10 places.

- (j) *priority*: one tenant's `low` jobs fill the line, then 10 `high` ones arrive. Goal: the
  last `high` job starts within the longest job's duration plus 2 s of their sending, where a
  first-come-first-served worker needs the whole line (20 waves of 2 s for 200 jobs).
- (k) *shares*: two tenants at weights 3:1 send their jobs together. Goal: the heavier one
  gets 0.75 ± 0.07 of the slot-time, measured only while both still have jobs waiting (until
  the first of them has its last job created).

Everything here works on the simulator's job stats (`prompt`, `submitted_at`, `finished_at`),
whose prompts carry the tenant, so the docs-style baseline (which knows no tenant and serves
first come, first served) is measured the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from tests.bench.analysis import Job, durations

PRIORITY, SHARES = "priority", "shares"
HIGH = 10  # the high jobs that arrive once the low ones fill the line
TENANTS = {"web": {}, "batch": {}, "heavy": {"weight": 3}, "light": {"weight": 1}}
ENV = {"MJ_TENANTS": json.dumps(TENANTS)}
SHARE_GOAL, SHARE_TOLERANCE = 0.75, 0.07
START_MARGIN_S = 2.0


def call_of(callers: str, key: str, jobs: int, i: int) -> tuple[str, str, str]:
    """Job `i`'s prompt, tenant and priority (the prompt names both, for the analysis)."""
    if callers == PRIORITY:
        low = jobs - HIGH
        if i < low:
            return f"bench {key} batch low {i}", "batch", "low"
        return f"bench {key} web high {i - low}", "web", "high"
    tenant = "heavy" if i % 2 == 0 else "light"
    return f"bench {key} {tenant} normal {i}", tenant, "normal"


def pause_before(callers: str, jobs: int, i: int) -> bool:
    """Whether the run waits for the line to fill before sending job `i` (the first high)."""
    return callers == PRIORITY and i == jobs - HIGH


def _of(jobs: Iterable[Job], word: str) -> list[Job]:
    return [j for j in jobs if f" {word} " in f" {j.get('prompt', '')} "]


def measures(callers: str, jobs: Iterable[Job], marks: Mapping[str, float]) -> dict[str, Any]:
    """The scenario's own figures and whether its goal was met."""
    jobs = list(jobs)
    if callers == PRIORITY:
        return priority_measures(jobs, marks.get("high_sent_at"))
    share = share_while_backlogged(jobs, "heavy", "light")
    return {
        "heavy_share": None if share is None else round(share, 4),
        "goal_met": share is not None and abs(share - SHARE_GOAL) <= SHARE_TOLERANCE,
    }


def priority_measures(jobs: list[Job], high_sent_at: float | None) -> dict[str, Any]:
    """When the last high job started after the highs were sent, against the bound."""
    starts = [j["submitted_at"] for j in _of(jobs, "high") if j.get("submitted_at") is not None]
    longest = max(durations(jobs), default=0.0)
    if high_sent_at is None or len(starts) < HIGH:
        return {"last_high_start_s": None, "longest_job_s": round(longest, 3), "goal_met": False}
    last = max(starts) - high_sent_at
    return {
        "last_high_start_s": round(last, 3),
        "longest_job_s": round(longest, 3),
        "goal_met": last <= longest + START_MARGIN_S,
    }


def share_while_backlogged(jobs: list[Job], heavy: str, light: str) -> float | None:
    """`heavy`'s part of the slot-time both tenants used while both had jobs waiting: from the
    first creation to the earlier of the two tenants' last creations."""
    groups = {name: _of(jobs, name) for name in (heavy, light)}
    created = {
        n: [j["submitted_at"] for j in g if j.get("submitted_at") is not None]
        for n, g in groups.items()
    }
    if not all(created.values()):
        return None
    start = min(min(c) for c in created.values())
    end = min(max(c) for c in created.values())
    used = {name: _within(group, start, end) for name, group in groups.items()}
    total = sum(used.values())
    return used[heavy] / total if total > 0 else None


def _within(jobs: list[Job], start: float, end: float) -> float:
    """Slot-time of `jobs` inside [start, end] (a job still running counts up to `end`)."""
    out = 0.0
    for j in jobs:
        if j.get("submitted_at") is None:
            continue
        finished = j.get("finished_at")
        stop = end if finished is None else min(finished, end)
        out += max(0.0, stop - max(j["submitted_at"], start))
    return out


def lines(key: str, title: str, rows: list[Mapping[str, Any]]) -> list[str]:
    """What the printed report says of a mixed-callers scenario's runs."""
    out = []
    for row in rows:
        if "last_high_start_s" in row:
            last = row["last_high_start_s"]
            said = "not all started" if last is None else f"{last:.1f} s"
            out.append(
                f"({key}) {row['run']}: the last high job started {said} after the highs were "
                f"sent (goal: within the longest job {row['longest_job_s']:.1f} s + "
                f"{START_MARGIN_S:g} s): {'met' if row['goal_met'] else 'NOT met'}"
            )
        elif "heavy_share" in row:
            share = row["heavy_share"]
            said = "–" if share is None else f"{share:.3f}"
            out.append(
                f"({key}) {row['run']}: the weight-3 tenant's share while both were backlogged "
                f"{said} (goal {SHARE_GOAL} ± {SHARE_TOLERANCE}): "
                f"{'met' if row['goal_met'] else 'NOT met'}"
            )
    return [f"{title}:", *out] if out else []


__all__ = [
    "ENV",
    "PRIORITY",
    "SHARES",
    "call_of",
    "lines",
    "measures",
    "pause_before",
    "share_while_backlogged",
]
