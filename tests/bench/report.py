"""Rows and the markdown table: one row per (scenario, run), from the run's raw results."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from tests.bench import analysis, limit
from tests.bench.cost import Cost

#: (header, row key, format) of the printed table, in order.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("scenario", "scenario", "{}"),
    ("run", "run", "{}"),
    ("limit s", "limit_s", "{:.1f}"),
    ("makespan s", "makespan_s", "{:.1f}"),
    ("util", "utilisation", "{:.0%}"),
    ("LA limit s", "latency_limit_s", "{:.1f}"),
    ("LA share", "latency_share", "{:.0%}"),
    ("ok", "ok", "{}"),
    ("fetches/job", "fetches_per_job", "{:.1f}"),
    ("499s", "count_499", "{}"),
    ("CPU ms/job", "cpu_ms_per_job", "{:.1f}"),
    ("Redis cmds/job", "redis_cmds_per_job", "{:.1f}"),
    ("hand-off p50 ms", "handoff_p50_ms", "{:.0f}"),
    ("hand-off p99 ms", "handoff_p99_ms", "{:.0f}"),
    ("pool share", "pooled_share", "{:.0%}"),
)


def summarise(
    *,
    scenario: str,
    run: str,
    jobs: int,
    cap: int,
    makespan_s: float,
    ok: int,
    stats: Mapping[str, Any],
    cost: Cost,
    held: Sequence[analysis.Hold] = (),
    releases: Sequence[tuple[float, int]] = (),
) -> dict[str, Any]:
    """One table row (plus JSON-only details) for a finished run.

    `held`: the other client's `(until, slots)` in the schedule, for the limit; `releases`:
    when it really let go on the simulator's clock, for the hand-offs and the latency-aware
    limit (tests/bench/limit.py), whose hand-off cost comes from the stats' latency knobs.
    """
    job_stats = list(stats.get("jobs", {}).values())
    accounts = stats.get("accounts", {}).values()
    physical = analysis.physical_limit(job_stats, cap, held, accounts=len(accounts) or None)
    gaps = analysis.handoff_gaps(job_stats, cap, releases)
    cost_s = limit.handoff_cost_of(stats)
    # The other client's places count from when it really let go, if the run recorded it.
    aware = limit.latency_aware_limit(job_stats, cap, cost_s, releases or held)
    span = limit.ttapi_span(job_stats)
    pooled = limit.pooled_latency_aware_limit(job_stats, cap, len(accounts) or 1, cost_s)
    return {
        "scenario": scenario,
        "run": run,
        "jobs": jobs,
        "ok": ok,
        "limit_s": round(physical, 3),
        "makespan_s": round(makespan_s, 3),
        "utilisation": round(analysis.utilisation(physical, makespan_s), 4),
        "handoff_cost_ms": round(1000 * cost_s, 1),
        "latency_limit_s": round(aware, 3),
        "ttapi_span_s": round(span, 3),
        "latency_share": round(limit.latency_share(aware, span), 4),
        "pooled_limit_s": round(pooled, 3),
        "pooled_share": round(limit.latency_share(pooled, span), 4),
        "fetches_per_job": round(analysis.fetches_per_job(job_stats), 2),
        "count_499": sum(int(a.get("count_499", 0)) for a in accounts),
        "count_429": sum(int(a.get("count_429", 0)) for a in accounts),
        "submits": sum(int(a.get("submits", 0)) for a in accounts),
        "peak_in_progress": max((int(a.get("peak_in_progress", 0)) for a in accounts), default=0),
        **cost.per_job(jobs),
        "handoffs": len(gaps),
        "handoff_p50_ms": round(1000 * analysis.percentile(gaps, 50), 1),
        "handoff_p99_ms": round(1000 * analysis.percentile(gaps, 99), 1),
        "redis_top10": dict(cost.top(10)),
        "cpu_s": round(cost.cpu_s, 3),
    }


def median_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (scenario, run) that ran more than once: the median of each table column.

    Its `run` says so (`mj-worker 1 node (median of 3)`); NaN cells are left out of a median.
    """
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((str(row["scenario"]), str(row["run"])), []).append(row)
    medians = []
    for (scenario, run), group in groups.items():
        if len(group) < 2:
            continue
        median: dict[str, Any] = {"scenario": scenario, "run": f"{run} (median of {len(group)})"}
        for _, key, _ in COLUMNS[2:]:
            values = [
                float(r[key])
                for r in group
                if isinstance(r.get(key), int | float) and not math.isnan(float(r[key]))
            ]
            median[key] = statistics.median(values) if values else float("nan")
        medians.append(median)
    return medians


def cell(value: Any, fmt: str) -> str:
    """One formatted cell; missing values and NaN show as an en dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return fmt.format(value)


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as a GitHub markdown table with the COLUMNS headers."""
    lines = [
        "| " + " | ".join(h for h, _, _ in COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(cell(row.get(k), f) for _, k, f in COLUMNS) + " |")
    return "\n".join(lines)


def cpu_split_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per row whose CPU was split by process role (`Cost.cpu_roles`)."""
    lines = []
    for row in rows:
        roles = row.get("cpu_ms_per_job_by_role") or {}
        if len(roles) > 1:
            parts = ", ".join(f"{role} {ms:.1f}" for role, ms in roles.items())
            lines.append(f"- {row['scenario']} / {row['run']}: {parts}")
    return lines


def cost_lines(row: Mapping[str, Any]) -> list[str]:
    """The burst's detail lines: CPU per job by process, Celery messages per job and the ten
    most used commands."""
    jobs = max(int(row.get("jobs", 1)), 1)
    top = ", ".join(f"{cmd} {n / jobs:.1f}" for cmd, n in row.get("redis_top10", {}).items())
    roles = row.get("cpu_ms_per_job_by_role", {})
    by_role = ", ".join(f"{role} {ms:.1f}" for role, ms in roles.items()) or "—"
    return [
        f"CPU ms/job by process: {by_role}",
        f"Celery messages/job (LPUSH): {row.get('celery_msgs_per_job', 0):.2f}",
        f"Redis top 10 (calls/job): {top}",
    ]
