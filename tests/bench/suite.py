"""Run scenarios end to end: one redis-server for all runs, rows, JSON and plots."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.bench import analysis, mixed, report
from tests.bench.runners import RunResult, run_docs_style, run_mjworker
from tests.bench.scenarios import DOCS, ONE_NODE, Scenario
from worker.devtools.embedded import RedisServer

#: Scenarios drawn as slots-over-time plots, and the hand-off CDF's panels.
SLOT_PLOTS = ("a", "c", "d")
HANDOFF_PANELS = ("a", "b", "c", "d")


def run_one(sc: Scenario, run: str, server: RedisServer, tmp: Path, attempt: int = 0) -> RunResult:
    """One run of `sc`: the docs-style baseline or mj-worker with one or two nodes."""
    if run == DOCS:
        return run_docs_style(sc, run, server, tmp, attempt)
    return run_mjworker(sc, run, 1 if run == ONE_NODE else 2, server, tmp, attempt)


def row_of(result: RunResult) -> dict[str, Any]:
    """The table row of one run."""
    sc = result.scenario
    return {
        **report.summarise(
            scenario=f"({sc.key}) {sc.title}",
            run=result.run,
            jobs=sc.jobs,
            cap=sc.cap,
            makespan_s=result.makespan_s,
            ok=result.ok,
            stats=result.stats,
            cost=result.cost,
            held=[(sc.held_s, sc.held)] if sc.held else (),
            releases=result.releases,
        ),
        "timed_out": result.timed_out,
        "nominal_limit_s": sc.nominal_limit_s,
        "attempt": result.attempt,
        **(mixed.measures(sc.callers, timeline(result), result.marks) if sc.callers else {}),
    }


def timeline(result: RunResult) -> list[dict[str, Any]]:
    """Each job's account and times on the simulator's clock (for plots and the JSON)."""
    keep = ("label", "submitted_at", "finished_at", "fetches", "prompt")
    return [{k: job.get(k) for k in keep} for job in result.stats.get("jobs", {}).values()]


def run_all(
    scenarios: Sequence[Scenario],
    on_row: Callable[[dict[str, Any]], None] | None = None,
    repeat: int = 1,
) -> list[RunResult]:
    """Every run of every scenario, `repeat` times, against one redis-server (started here).

    Repetitions take turns (docs-style, 1 node, 2 nodes, then again), so a slow spell of the
    machine does not fall on one run only.
    """
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="mj-bench-") as tmp_name:
        tmp = Path(tmp_name)
        server = RedisServer(tmp / "redis").start()
        try:
            for sc in scenarios:
                for attempt in range(repeat):
                    for run in sc.runs:
                        result = run_one(sc, run, server, tmp, attempt)
                        results.append(result)
                        if on_row:
                            on_row(row_of(result))
        finally:
            server.stop()
    return results


def timeline_key(result: RunResult) -> str:
    """`f/mj-worker 1 node`, with `#2` etc. for the second and later repetitions."""
    tail = f"#{result.attempt + 1}" if result.attempt else ""
    return f"{result.scenario.key}/{result.run}{tail}"


def write_json(path: Path, results: Sequence[RunResult], meta: dict[str, Any]) -> Path:
    """Rows (and medians of repeated runs) plus each run's job timeline as JSON at `path`."""
    rows = [row_of(r) for r in results]
    doc = {
        **meta,
        "rows": rows,
        "medians": report.median_rows(rows),
        "timelines": {timeline_key(r): timeline(r) for r in results},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1))
    return path


def write_plots(results: Sequence[RunResult], out: Path) -> list[Path]:
    """Slots-over-time PNGs for scenarios a, c, d and one hand-off CDF PNG, into `out`."""
    from tests.bench import plots

    written: list[Path] = []
    by_key: dict[str, list[RunResult]] = {}
    for r in results:
        if r.attempt == 0:  # the plots show the first repetition of each run
            by_key.setdefault(r.scenario.key, []).append(r)
    for key in SLOT_PLOTS:
        runs = by_key.get(key)
        if not runs:
            continue
        sc = runs[0].scenario
        written.append(
            plots.slots_plot(
                out / f"slots-{key}.png",
                f"({key}) {sc.title}: slots in use per account",
                {r.run: timeline(r) for r in runs},
                sc.cap,
                held=sc.held,
                releases={r.run: r.releases for r in runs},
            )
        )
    panels = {
        f"({k}) {by_key[k][0].scenario.title}": {
            r.run: analysis.handoff_gaps(timeline(r), r.scenario.cap, r.releases) for r in by_key[k]
        }
        for k in HANDOFF_PANELS
        if k in by_key
    }
    if panels:
        written.append(plots.handoff_plot(out / "handoff-cdf.png", panels))
    return written


def elapsed_since(t0: float) -> str:
    """`12 min 34 s` since the monotonic time `t0`."""
    s = int(time.monotonic() - t0)
    return f"{s // 60} min {s % 60} s"
