"""`python -m tests.bench.burst`: only the 1,000-job burst, with its cost in detail.

1,000 imagines at once on 4 accounts (cap 10, fast = 2 s), mj-worker with one node of 4
processes and the Stack's poll bounds 0.05..0.5 s. Prints makespan, the physical limit and the
utilisation, then what each job cost: worker CPU ms, Redis commands (with the top 10), fetches,
Celery messages (LPUSH) and 499s. `--docs` also runs the docs-style baseline; `--quick` sends
200 jobs instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

from tests.bench import report, suite
from tests.bench.scenarios import DOCS, ONE_NODE, SCENARIOS, quick
from worker.devtools.embedded import RedisServer


def main(argv: list[str] | None = None) -> None:
    """Run the burst and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.burst", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200 jobs instead of 1,000")
    parser.add_argument("--docs", action="store_true", help="also run the docs-style baseline")
    args = parser.parse_args(argv)
    sc = quick(SCENARIOS["c"]) if args.quick else SCENARIOS["c"]
    sc = dataclasses.replace(sc, runs=(DOCS, ONE_NODE) if args.docs else (ONE_NODE,))
    with tempfile.TemporaryDirectory(prefix="mj-burst-") as tmp_name:
        tmp = Path(tmp_name)
        server = RedisServer(tmp / "redis").start()
        try:
            rows = [suite.row_of(suite.run_one(sc, run, server, tmp)) for run in sc.runs]
        finally:
            server.stop()
    for row in rows:
        print(f"## {row['scenario']}: {row['run']}")
        print(f"jobs ok: {row['ok']}/{row['jobs']}")
        print(f"makespan: {row['makespan_s']:.2f} s")
        print(
            f"limit: {row['limit_s']:.2f} s (total simulated job time / (accounts × cap); "
            f"nominal ceil(jobs/(accounts × cap)) × fast = {row['nominal_limit_s']:.1f} s)"
        )
        print(f"utilisation: {row['utilisation']:.1%}")
        print(f"CPU ms/job: {row['cpu_ms_per_job']:.2f}")
        print(f"Redis cmds/job: {row['redis_cmds_per_job']:.1f}")
        print(f"fetches/job: {row['fetches_per_job']:.2f}")
        print(f"499s: {row['count_499']}")
        for line in report.cost_lines(row):
            print(line)
        print()


if __name__ == "__main__":
    main()
