"""`make bench`: mj-worker against a docs-style Celery baseline and the physical limit.

Scenarios (cap 10, simulator on 127.0.0.1, mj-worker poll bounds 0.05..0.5 s):
  (a) 100 jobs on 1 account, exact 2 s (limit 20 s)
  (b) the same with durations ±20 % (limit: the simulator's total job time / cap)
  (c) a 1,000-job burst on 4 accounts (limit 50 s)
  (d) another client holds 7 of 10 slots for the first 8 s, then 40 jobs (limit 14 s)
  (e) 100 accounts × 10 jobs of 20 s on one node, mj-worker only (limit 20 s)
With network latency (a submit's round trip 0.6 s, a fetch's 0.25 s; poll bounds 2.5 % and
25 % of the job time, task events on):
  (f) 60 jobs of 10 s ±20 % on 1 account
  (g) 400 jobs of 10 s ±20 % at once on 4 accounts
  (h) 1,000 jobs of 4 s at once on 4 accounts
The HTTP API (tests/bench/api_posts.py), no worker behind it:
  (i) POST /v1/jobs per second through one `mjw web` process (validation and Idempotency-Key
      on, 16 client threads for 15 s, 5 s with --quick), and the p99 of its answers
With callers of several tenants and priorities (tests/bench/mixed.py), 2 s ±20 %, 1 account:
  (j) 200 low jobs of one tenant fill the line, then 10 high arrive: when the last high starts
  (k) two tenants at weights 3:1, 150 jobs each at once: the heavier one's share
Every row also shows the latency-aware limit (LA: a perfect client paying half a fetch and half
a submit round trip per hand-off) and the share of it reached at TTAPI (tests/bench/limit.py),
and the same for a perfect client that may put any job on any account (pool share).
Each of (a)–(d) and (f)–(h) runs the docs-style baseline (tests/bench/docs_style.py), mj-worker
with one node of 4 processes and with two such nodes. --repeat N runs each N times and adds the
median of each column (issue 16 asks for the median of 3 runs of (f)). Prints a markdown
table, writes JSON (--out) and PNG plots (--plots; matplotlib from the `bench` extra).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tests.bench import api_posts, mixed, report, suite
from tests.bench.scenarios import SCENARIOS, select, with_round_trips


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="S",
        choices=[*SCENARIOS, api_posts.KEY],
        help="scenarios to run (a–k)",
    )
    parser.add_argument("--quick", action="store_true", help="fewer jobs: a smoke test")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run each scenario N times and add the median of each column (default 1)",
    )
    parser.add_argument(
        "--latency",
        nargs=2,
        type=float,
        metavar=("SUBMIT_S", "FETCH_S"),
        help="run every chosen scenario with these round trips (default: each scenario's own, "
        "0.6 and 0.25 s for (f)-(h), none for the others)",
    )
    parser.add_argument("--out", default=".bench/results.json", help="JSON results path")
    parser.add_argument("--plots", default="docs/bench", help="directory for the PNG plots")
    parser.add_argument("--no-plots", action="store_true", help="skip the plots")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the chosen scenarios, then print the table and write JSON and plots."""
    args = parse_args(argv)
    jobs_only = [k for k in args.only or SCENARIOS if k != api_posts.KEY]
    scenarios = select(jobs_only, is_quick=args.quick) if jobs_only else []
    if args.latency:
        scenarios = [with_round_trips(s, *args.latency) for s in scenarios]
    t0 = time.monotonic()
    if scenarios:
        print(
            "| scenario | run | makespan | limit | LA share | pool share | 499s |  (progress)",
            flush=True,
        )

    def progress(row: dict[str, Any]) -> None:
        print(
            f"| {row['scenario']} | {row['run']} | {row['makespan_s']:.1f} s | "
            f"{row['limit_s']:.1f} s | {report.cell(row['latency_share'], '{:.0%}')} | "
            f"{report.cell(row['pooled_share'], '{:.0%}')} | "
            f"{row['count_499']} |  ({suite.elapsed_since(t0)})",
            flush=True,
        )

    results = suite.run_all(scenarios, progress, repeat=max(1, args.repeat))
    rows = [suite.row_of(r) for r in results]
    if rows:
        print()
        print(report.markdown_table(rows))
    split = report.cpu_split_lines(rows)
    if split:
        print(
            "\nWorker CPU ms/job by process (main: Celery's consumer; pool: task runs, and the"
            " first node's embedded beat; engine):"
        )
        print("\n".join(split))
    medians = report.median_rows(rows)
    if medians:
        print()
        print(report.markdown_table(medians))
    for sc in scenarios:
        if sc.note:
            print(f"\n({sc.key}) {sc.note}")
        if sc.callers:
            mine = [r for r in rows if r["scenario"].startswith(f"({sc.key})")]
            print("\n" + "\n".join(mixed.lines(sc.key, sc.title, mine)))
    for row in rows:
        if row["timed_out"] or row["ok"] < row["jobs"]:
            print(f"\nWARNING {row['scenario']} / {row['run']}: {row['ok']}/{row['jobs']} ok")
    meta: dict[str, Any] = {"quick": args.quick, "scenarios": [s.key for s in scenarios]}
    if args.only is None or api_posts.KEY in args.only:
        seconds = api_posts.QUICK_SECONDS if args.quick else api_posts.SECONDS
        rate = api_posts.measure(seconds)
        print(f"\n{rate.line()}", flush=True)
        meta["api_posts"] = asdict(rate)
    meta["repeat"] = max(1, args.repeat)
    meta["total_s"] = round(time.monotonic() - t0, 1)
    out = suite.write_json(Path(args.out), results, meta)
    print(f"\nJSON: {out}")
    if not args.no_plots:
        for path in suite.write_plots(results, Path(args.plots)):
            print(f"plot: {path}")
    print(f"total: {suite.elapsed_since(t0)}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
