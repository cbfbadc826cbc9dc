"""`python -m tests.bench.floor`: the CPU a job cannot do without, measured on this machine.

The lifecycle issue asks for at most 15 ms of worker CPU per imagine job in the bench's (c),
and says: where Celery's own two messages make a goal impossible, show the profile that proves
it. This measures, in one run, the parts of a job that are not mj-worker's own work:

- a Celery message, handled as a node handles one (`tests/bench/floor_app.py`: the node's
  per-message settings and patches, events on, a prefork pool of 4), with a task that does
  nothing: worker CPU (main process and pool) per message, N messages sent at once;
- a TTAPI call through `worker.ttapi.client` (urllib3, JSON) against the simulator: this
  thread's CPU per submit and per fetch (the simulator's own threads are not counted);
- a Redis round trip through redis-py: this thread's CPU per `EVALSHA` of a one-line script.

It prints each, then the floor of one job in (c): its Celery messages and its TTAPI calls
(per job, as a (c) run counts them: `--messages`, `--calls`), against 15 ms. What is left
under 15 ms is all a job may spend on its record, its place in line and its visible states.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from config.settings import Account
from tests.bench.cost import CostMeter
from tests.support.stack import client_app
from worker.devtools.embedded import CeleryProcess, RedisServer
from worker.devtools.simulator import SimConfig, Simulator
from worker.ttapi.client import TTAPIClient

#: The goal of issue 24, in ms of worker CPU per imagine job in (c).
GOAL_MS = 15.0
#: Per job in the last full (c) run (README, Benchmarks): Celery messages, TTAPI calls.
MESSAGES_PER_JOB = 2.1
CALLS_PER_JOB = 4.9  # one submit, 3.9 fetches


@dataclass(frozen=True)
class Floor:
    """CPU ms per unit: a Celery message (worker side), a TTAPI submit and fetch, a Redis
    round trip."""

    message_ms: float
    submit_ms: float
    fetch_ms: float
    round_trip_ms: float

    def job_ms(self, messages: float, calls: float) -> float:
        """A job's floor: its messages and its TTAPI calls (one a submit, the rest fetches)."""
        return messages * self.message_ms + self.submit_ms + (calls - 1) * self.fetch_ms


def thread_cpu_ms(call: Callable[[], object], n: int) -> float:
    """This thread's CPU ms per call of `call`, over `n` calls after one warm-up call."""
    call()
    t0 = time.thread_time()
    for _ in range(n):
        call()
    return 1000 * (time.thread_time() - t0) / n


def message_ms(server: RedisServer, workdir: Path, n: int) -> float:
    """Worker CPU ms per no-op message on a node-like worker, `n` sent at once."""
    env = {"REDIS_URL": server.url}
    args = ["worker", "-n", "floor@%h", "-c", "4", "-l", "INFO", "-E"]
    args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    node = CeleryProcess(env, workdir / "floor.log", args=args, app="tests.bench.floor_app")
    app = client_app(server.url)
    client = redis.Redis.from_url(server.url)
    try:
        node.start().wait_ready(timeout=120)
        warm = [app.send_task("floor.noop", args=(-1,)) for _ in range(8)]
        for result in warm:  # every pool process has run a task
            result.get(timeout=60)
        meter = CostMeter(client, lambda: [node.proc.pid] if node.proc else [])
        with meter:
            results = [app.send_task("floor.noop", args=(i,)) for i in range(n)]
            for result in results:
                result.get(timeout=120)
        return 1000 * meter.cost.cpu_s / n
    finally:
        node.stop()
        client.close()


def call_ms(n: int) -> tuple[float, float]:
    """This thread's CPU ms per TTAPI submit and per fetch against the simulator (the fetch of
    a job still running, as three of a (c) job's four are)."""
    key = "floor-key"
    sim = Simulator(SimConfig(keys=[key], capacity=10_000, fast_s=600, burst=100_000)).start()
    client = TTAPIClient(Account.from_key(key), sim.url)
    try:
        ids: list[str] = []
        submit = thread_cpu_ms(lambda: ids.append(client.imagine("a floor prompt").job_id), n)
        fetch = thread_cpu_ms(lambda: client.fetch(ids[0]), n)
        return submit, fetch
    finally:
        client.close()
        sim.stop()


def round_trip_ms(server: RedisServer, n: int) -> float:
    """This thread's CPU ms per `EVALSHA` through redis-py."""
    client = redis.Redis.from_url(server.url)
    script = client.register_script("return redis.call('GET', KEYS[1])")
    try:
        return thread_cpu_ms(lambda: script(keys=["floor"], args=[]), n)
    finally:
        client.close()


def measure(messages: int, calls: int, repeat: int) -> Floor:
    """Each part `repeat` times, its median."""
    with tempfile.TemporaryDirectory(prefix="mj-floor-") as tmp:
        server = RedisServer(Path(tmp) / "redis").start()
        try:
            runs = [
                Floor(
                    message_ms(server, Path(tmp), messages),
                    *call_ms(calls),
                    round_trip_ms(server, calls * 4),
                )
                for _ in range(repeat)
            ]
        finally:
            server.stop()
    return Floor(
        *(
            statistics.median(getattr(f, name) for f in runs)
            for name in ("message_ms", "submit_ms", "fetch_ms", "round_trip_ms")
        )
    )


def report(floor: Floor, messages: float, calls: float) -> str:
    """The markdown table of the parts and the floor of one job in (c)."""
    job = floor.job_ms(messages, calls)
    rows = [
        ("a Celery message (worker: main process and pool)", floor.message_ms, messages),
        ("a TTAPI submit (this thread)", floor.submit_ms, 1.0),
        ("a TTAPI fetch (this thread)", floor.fetch_ms, calls - 1),
    ]
    lines = ["| part | CPU ms each | per job in (c) | ms per job |", "|---|---|---|---|"]
    for name, each, per_job in rows:
        lines.append(f"| {name} | {each:.2f} | {per_job:g} | {each * per_job:.1f} |")
    lines.append(f"| **the floor of one job** | | | **{job:.1f}** |")
    left = GOAL_MS - job
    lines.append("")
    lines.append(f"A Redis round trip costs {floor.round_trip_ms:.3f} ms of this thread's CPU.")
    if left <= 0:
        lines.append(f"The floor alone is above the goal of {GOAL_MS:g} ms.")
    else:
        trips = f"about {left / floor.round_trip_ms:.0f}" if floor.round_trip_ms > 0 else "any"
        lines.append(
            f"Under the goal of {GOAL_MS:g} ms, {left:.1f} ms is left for everything else a job "
            f"does (its record, its place in line, its visible states): {trips} round trips "
            "and nothing more."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.floor",
        description=__doc__.split("\n\n", 1)[0].split(": ", 1)[1] if __doc__ else None,
    )
    parser.add_argument("--jobs", type=int, default=400, help="messages sent (default 400)")
    parser.add_argument("--calls", type=int, default=300, help="TTAPI calls of each kind")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is kept")
    parser.add_argument("--messages-per-job", type=float, default=MESSAGES_PER_JOB)
    parser.add_argument("--calls-per-job", type=float, default=CALLS_PER_JOB)
    opts = parser.parse_args(argv)
    floor = measure(opts.jobs, opts.calls, opts.repeat)
    print(report(floor, opts.messages_per_job, opts.calls_per_job))


if __name__ == "__main__":
    main()
