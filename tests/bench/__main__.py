"""`make bench`: mj-worker against a docs-style Celery baseline and the physical limit.

Scenarios (cap 10, simulator on 127.0.0.1, mj-worker poll bounds 0.05..0.5 s):
  (a) 100 jobs on 1 account, exact 2 s (limit 20 s)
  (b) the same with durations ±20 % (limit: the simulator's total job time / cap)
  (c) a 1,000-job burst on 4 accounts (limit 50 s)
  (d) another client holds 7 of 10 slots for the first 8 s, then 40 jobs (limit 14 s)
  (e) 100 accounts × 10 jobs of 20 s on one node, mj-worker only (limit 20 s)
Each of (a)–(d) runs the docs-style baseline (tests/bench/docs_style.py), mj-worker with one
node of 4 processes and with two such nodes. Prints a markdown table, writes JSON (--out) and
PNG plots (--plots; matplotlib from the `bench` extra).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from tests.bench import report, suite
from tests.bench.scenarios import SCENARIOS, select


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only", nargs="+", metavar="S", choices=list(SCENARIOS), help="scenarios to run (a–e)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer jobs: a smoke test")
    parser.add_argument("--out", default=".bench/results.json", help="JSON results path")
    parser.add_argument("--plots", default="docs/bench", help="directory for the PNG plots")
    parser.add_argument("--no-plots", action="store_true", help="skip the plots")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the chosen scenarios, then print the table and write JSON and plots."""
    args = parse_args(argv)
    scenarios = select(args.only, is_quick=args.quick)
    t0 = time.monotonic()
    print("| scenario | run | makespan | limit | 499s |  (progress)", flush=True)

    def progress(row: dict[str, Any]) -> None:
        print(
            f"| {row['scenario']} | {row['run']} | {row['makespan_s']:.1f} s | "
            f"{row['limit_s']:.1f} s | {row['count_499']} |  ({suite.elapsed_since(t0)})",
            flush=True,
        )

    results = suite.run_all(scenarios, progress)
    rows = [suite.row_of(r) for r in results]
    print()
    print(report.markdown_table(rows))
    for sc in scenarios:
        if sc.note:
            print(f"\n({sc.key}) {sc.note}")
    for row in rows:
        if row["timed_out"] or row["ok"] < row["jobs"]:
            print(f"\nWARNING {row['scenario']} / {row['run']}: {row['ok']}/{row['jobs']} ok")
    meta = {"quick": args.quick, "scenarios": [s.key for s in scenarios]}
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
