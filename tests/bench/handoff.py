"""Hand-off latency with a deep backlog: does a freed slot wait behind thousands of queued jobs?

`python -m tests.bench.handoff [--backlog 50 5000]` starts a real redis-server, the simulator
(cap 10, 2 s jobs) and one worker node (4 processes), sends BACKLOG imagines on one account at
once, and measures, over the first WAVES waves, the time from a job finishing at TTAPI (the
simulator's clock) to the next submit it made room for. Wake-ups travel on the control queue,
so the figures should not grow with the backlog. Everything runs on 127.0.0.1 and stops itself.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench import analysis
from tests.support.stack import Stack
from worker.devtools.embedded import RedisServer

KEY = "sk-bench-handoff-0001"
CAP, FAST_S, WAVES = 10, 2.0, 4


def handoffs(jobs: dict[str, dict[str, Any]], cap: int) -> list[float]:
    """Seconds from each slot freed at TTAPI to the submit that took it (k-th end → cap+k-th)."""
    return analysis.handoff_gaps(jobs.values(), cap)


def measure(backlog: int, workdir: Path, *, split: bool = False) -> dict[str, Any]:
    """One run: BACKLOG jobs queued at once, hand-offs over the first waves.

    `split`: a second node consumes only the control queue (`-Q mj.control`), as the README
    shows for production; otherwise one node consumes both queues.
    """
    server = RedisServer(workdir / f"redis-{backlog}-{split}").start()
    options: dict[str, Any] = {"nodes": 1}
    if split:
        options = {"nodes": 2, "queues": ["celery", "mj.control"]}
    stack = Stack(
        server, workdir, keys=[KEY], capacity=CAP, fast_s=FAST_S, concurrency=4, **options
    )
    try:
        stack.start()
        t0 = time.monotonic()
        for i in range(backlog):
            stack.send("mj.imagine", f"a deep backlog {backlog} {i}")
        sent_s = time.monotonic() - t0
        want = CAP * WAVES
        label = stack.labels[0]
        deadline = time.monotonic() + 60 + FAST_S * WAVES * 3
        while time.monotonic() < deadline:
            stats = stack.sim.stats()
            if stats["accounts"][label]["submits"] >= want + CAP:
                break
            time.sleep(0.2)
        jobs = stack.sim.stats()["jobs"]
        gaps = sorted(handoffs(jobs, CAP))[:want]
    finally:
        stack.stop()
        server.stop()
    return {
        "workers": "user + control node" if split else "one node, both queues",
        "backlog": backlog,
        "sent_s": sent_s,
        "n": len(gaps),
        "p50_ms": 1000 * statistics.median(gaps) if gaps else float("nan"),
        "p99_ms": 1000 * gaps[min(len(gaps) - 1, int(0.99 * len(gaps)))] if gaps else float("nan"),
    }


def main() -> None:
    """Print one table row per worker layout and backlog size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, nargs="+", default=[50, 5000])
    parser.add_argument(
        "--split", action="store_true", help="also run with a dedicated control-queue node"
    )
    args = parser.parse_args()
    print("| workers | backlog | sent in | hand-offs measured | p50 | p99 |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="mj-handoff-") as tmp:
        for split in (False, True) if args.split else (False,):
            for backlog in args.backlog:
                row = measure(backlog, Path(tmp), split=split)
                print(
                    f"| {row['workers']} | {row['backlog']:,} | {row['sent_s']:.1f} s | "
                    f"{row['n']} | {row['p50_ms']:.0f} ms | {row['p99_ms']:.0f} ms |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
