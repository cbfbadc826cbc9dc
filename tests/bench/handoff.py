"""Hand-off latency behind a deep backlog: does a freed slot wait behind thousands of queued jobs?

`python -m tests.bench.handoff [--backlog 50 5000] [--split]` starts a real redis-server, the
simulator (cap 10, 2 s jobs) and one worker node of 4 processes (`--split`: also a user node of
1 process beside a control node of 4) with BACKLOG imagines already queued on one account, as
another service left them. It measures the time from a job finishing
at TTAPI (the simulator's clock) to the submit that took its place, in two phases:

- *parking*: the workers are still taking the backlog off the Celery queue, one short task run
  per job that parks it WAITING; the CPU is busy with that;
- *parked*: every job waits in the account's queue; only the queue's depth differs from the
  run with 50.

"From the fetch" counts from the poll that saw the job ended: the hand-off without how late the
poll came. The backlog is queued before the workers start: sent from this process while they
run, the sender would share the in-process simulator's interpreter lock and slow its answers,
which a real sender (another service, another machine) does not. Everything runs on 127.0.0.1
and stops itself.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench import analysis
from tests.support.stack import Stack
from worker.devtools.embedded import RedisServer
from worker.keys import KEYS

KEY = "sk-bench-handoff-0001"
CAP, FAST_S = 10, 2.0
WANT = 60  # hand-offs measured once parked: six waves
USER_PROCESSES = 1  # the user node's in the split layout: its runs are short (park, submit)
PHASES = ("parking", "parked")


def measure(backlog: int, workdir: Path, *, split: bool = False) -> list[dict[str, Any]]:
    """One run with BACKLOG jobs queued first; a row per phase that had hand-offs.

    `split`: a user node of one process (`-Q celery -c 1`) and a control node of four
    (`-Q mj.control`), as the README shows for production; otherwise one node of four
    processes consumes both queues.
    """
    server = RedisServer(workdir / f"redis-{backlog}-{split}").start()
    options: dict[str, Any] = {"nodes": 1, "concurrency": 4}
    if split:
        options = {
            "nodes": 2,
            "queues": ["celery", "mj.control"],
            "concurrency": [USER_PROCESSES, 4],
        }
    stack = Stack(server, workdir, keys=[KEY], capacity=CAP, fast_s=FAST_S, **options)
    try:
        for i in range(backlog):
            stack.send("mj.imagine", f"a deep backlog {backlog} {i}")
        stack.start()
        jobs, parked_at = _run(stack, backlog)
    finally:
        stack.stop()
        server.stop()
    rows = []
    for phase in PHASES:
        gaps, seen = (_phase(jobs, end, parked_at, phase) for end in ("finished_at", "seen_end_at"))
        if gaps:
            rows.append(
                {
                    "workers": "user (1) + control (4) node"
                    if split
                    else "one node (4), both queues",
                    "backlog": backlog,
                    "phase": phase,
                    "parked_s": parked_at,
                    "n": len(gaps),
                    **{f"p{q}_ms": 1000 * analysis.percentile(gaps, q) for q in (50, 99)},
                    **{f"seen_p{q}_ms": 1000 * analysis.percentile(seen, q) for q in (50, 99)},
                }
            )
    return rows


def _run(stack: Stack, backlog: int) -> tuple[dict[str, dict[str, Any]], float]:
    """Wait until the backlog is parked and WANT hand-offs came after; (jobs, parked at)."""
    label = stack.labels[0]
    waiters = KEYS.waiters(label)
    parked_at: float | None = None
    deadline = time.monotonic() + 60 + backlog * 0.02 + FAST_S * WANT / CAP * 3
    while time.monotonic() < deadline:
        stats = stack.sim.stats()
        submits = stats["accounts"][label]["submits"]
        queued = stack.redis.llen("celery") if parked_at is None else 0
        if parked_at is None and not queued and stack.redis.zcard(waiters) + submits >= backlog:
            parked_at = float(stats["elapsed"])
        if parked_at is not None:
            after = [t for t, _ in analysis.handoffs(stats["jobs"].values(), CAP) if t >= parked_at]
            if len(after) >= WANT or submits >= backlog:
                return stats["jobs"], parked_at
        time.sleep(0.2)
    raise RuntimeError(f"backlog {backlog}: not parked, or too few hand-offs, in time")


def _phase(jobs: dict[str, dict[str, Any]], end: str, parked_at: float, phase: str) -> list[float]:
    """The hand-off gaps of one phase, by when the place was freed (or seen freed)."""
    pairs = analysis.handoffs(jobs.values(), CAP, end=end)
    if phase == "parking":
        return [gap for t, gap in pairs if t < parked_at]
    return [gap for t, gap in pairs if t >= parked_at][:WANT]


def main() -> None:
    """Print one table row per worker layout, backlog size and phase."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, nargs="+", default=[50, 5000])
    parser.add_argument(
        "--split", action="store_true", help="also run with a dedicated control-queue node"
    )
    args = parser.parse_args()
    print("| workers | backlog | phase | hand-offs | p50 | p99 | from the fetch: p50 | p99 |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="mj-handoff-") as tmp:
        for split in (False, True) if args.split else (False,):
            for backlog in args.backlog:
                for row in measure(backlog, Path(tmp), split=split):
                    phase = row["phase"]
                    if phase == "parking":
                        phase += f" (0–{row['parked_s']:.1f} s)"
                    print(
                        f"| {row['workers']} | {row['backlog']:,} | {phase} | {row['n']} | "
                        f"{row['p50_ms']:.0f} ms | {row['p99_ms']:.0f} ms | "
                        f"{row['seen_p50_ms']:.0f} ms | {row['seen_p99_ms']:.0f} ms |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
