"""Run one scenario once: against mj-worker (Stack) or the docs-style Celery app.

Both runs share one redis-server (flushed before each run) and get a fresh simulator. The
makespan is wall-clock time from the first send until every result is in; CPU and Redis cost
cover the same span (see cost.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from config.settings import account_label
from tests.bench import mixed
from tests.bench.analysis import rebase
from tests.bench.cost import Cost, CostMeter
from tests.bench.scenarios import Scenario
from tests.support.stack import Stack, client_app
from worker.devtools.embedded import CeleryProcess, RedisServer
from worker.devtools.simulator import Faults, SimConfig, Simulator
from worker.keys import KEYS

#: How long a run waits for its nodes' engines to be up before it sends anything.
ENGINES_UP_S = 60.0


@dataclass
class RunResult:
    """What one run produced: timing, outcomes, the simulator's stats and the cost."""

    scenario: Scenario
    run: str
    makespan_s: float
    ok: int
    timed_out: bool
    stats: dict[str, Any]
    cost: Cost
    #: `(time, slots)` at which the other client let go of its places.
    releases: list[tuple[float, int]] = field(default_factory=list)
    #: The simulator's clock at the first send; job times in `stats` are moved to start there.
    origin: float = 0.0
    #: Which repetition of the scenario this run was (0-based; `--repeat`).
    attempt: int = 0
    #: Moments of the run on the simulator's clock (mixed callers: when the highs were sent).
    marks: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Put job, release and mark times on the run's clock: 0 is the first send."""
        jobs = self.stats.get("jobs", {})
        moved = rebase(jobs.values(), self.origin)
        self.stats = {**self.stats, "jobs": dict(zip(jobs, moved, strict=True))}
        self.releases = [(round(t - self.origin, 6), n) for t, n in self.releases]
        self.marks = {name: round(t - self.origin, 6) for name, t in self.marks.items()}


def latency_of(sc: Scenario) -> Faults:
    """The simulator's knobs for the network round trips of `sc` (none: all zero)."""
    return Faults(latency_submit_s=sc.latency_submit_s, latency_fetch_s=sc.latency_fetch_s)


def sim_config(sc: Scenario, keys: list[str]) -> SimConfig:
    """The simulator of `sc`: its cap, job length and spread, and its network round trips."""
    return SimConfig(
        keys=keys, capacity=sc.cap, fast_s=sc.fast_s, jitter=sc.jitter, faults=latency_of(sc)
    )


def keys_for(sc: Scenario) -> list[str]:
    """One made-up TTAPI key per account of the scenario."""
    return [f"sk-bench-{sc.key}-{i:04d}" for i in range(sc.accounts)]


def _drive(
    sc: Scenario,
    sim: Simulator,
    send: Callable[[int], Any],
    meter: CostMeter,
    marks: dict[str, float] | None = None,
    parked: Callable[[], bool] = lambda: True,
) -> tuple[float, int, bool, list[tuple[float, int]], float]:
    """Send every job, hold/release the other client's places on time, wait for all results.

    Mixed callers' (i): before the first high job, wait until the low ones fill the account
    and `parked()` (the runner's own sign that they wait in its line), and note in `marks`
    when the highs went. Returns makespan, jobs ok, whether the deadline passed, the releases
    and the simulator's clock at the first send.
    """
    releases: list[tuple[float, int]] = []
    label = account_label(keys_for(sc)[0])

    def release() -> None:
        sim.set_faults(other_client={})
        releases.append((float(sim.stats()["elapsed"]), sc.held))

    if sc.held:
        sim.set_faults(other_client={label: sc.held})
    timer = threading.Timer(sc.held_s, release) if sc.held else None
    ok, timed_out = 0, False
    origin = float(sim.stats()["elapsed"])
    with meter:
        t0 = time.monotonic()
        if timer:
            timer.start()
        results = []
        for i in range(sc.jobs):
            if mixed.pause_before(sc.callers, sc.jobs, i):
                _wait_full(sc, sim, parked, t0)
                if marks is not None:
                    marks["high_sent_at"] = float(sim.stats()["elapsed"])
            results.append(send(i))
        for result in results:
            try:
                value = result.get(timeout=max(1.0, t0 + sc.timeout_s - time.monotonic()))
            except Exception as exc:  # a failed job or the run's deadline
                timed_out = timed_out or type(exc).__name__ == "TimeoutError"
                if timed_out:
                    break
                continue
            ok += isinstance(value, dict) and value.get("status") == "SUCCESS"
        makespan = time.monotonic() - t0
    if timer:
        timer.join()
    return makespan, ok, timed_out, releases, origin


def _wait_full(sc: Scenario, sim: Simulator, parked: Callable[[], bool], t0: float) -> None:
    """Until the account runs `cap` jobs and the rest are parked (bounded by the deadline)."""
    while time.monotonic() < t0 + sc.timeout_s:
        accounts = sim.stats()["accounts"].values()
        if sum(int(a.get("in_progress", 0)) for a in accounts) >= sc.cap and parked():
            return
        time.sleep(0.05)


def run_mjworker(
    sc: Scenario, run: str, nodes: int, server: RedisServer, tmp: Path, attempt: int = 0
) -> RunResult:
    """One run of mj-worker with `nodes` nodes of 4 processes (the first also runs beat).

    Task events are on (`-E`), as in production, whatever the app's default becomes.
    """
    workdir = tmp / f"{sc.key}-mjw-{nodes}-{attempt}"
    workdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(
        server,
        workdir,
        keys=keys_for(sc),
        capacity=sc.cap,
        fast_s=sc.fast_s,
        nodes=nodes,
        concurrency=4,
        env=dict(sc.env),
        sim={"jitter": sc.jitter, "faults": latency_of(sc)},
        worker_args=["-E"],
    )
    try:
        stack.start()
        wait_engines(stack, nodes)
        meter = CostMeter(stack.redis, lambda: [n.proc.pid for n in stack.nodes if n.proc])

        def send(i: int) -> Any:
            if sc.callers:
                prompt, tenant, priority = mixed.call_of(sc.callers, sc.key, sc.jobs, i)
                return stack.send("mj.imagine", prompt, tenant=tenant, priority=priority)
            return stack.send("mj.imagine", f"bench {sc.key} prompt {i}")

        def parked() -> bool:  # every entry taken in: the rest wait in the account's line
            return not stack.redis.llen("celery")

        marks: dict[str, float] = {}
        makespan, ok, timed_out, releases, origin = _drive(
            sc, stack.sim, send, meter, marks, parked
        )
        stats = stack.sim.stats()
    finally:
        stack.stop()
    return RunResult(
        sc, run, makespan, ok, timed_out, stats, meter.cost, releases, origin, attempt, marks
    )


def wait_engines(stack: Stack, nodes: int, timeout: float = ENGINES_UP_S) -> None:
    """Until `nodes` engines beat and every account has one: a node's worker is ready before
    its engine process has started, and the engine's start (its imports, its first beat) is
    a cost per node, not per job, as the worker's own start is (the meter starts after both)."""
    deadline = time.monotonic() + timeout
    owners = [KEYS.owner(label) for label in stack.labels]
    while time.monotonic() < deadline:
        if stack.redis.zcard(KEYS.engines) >= nodes and stack.redis.exists(*owners) == len(owners):
            return
        time.sleep(0.05)


def run_docs_style(
    sc: Scenario, run: str, server: RedisServer, tmp: Path, attempt: int = 0
) -> RunResult:
    """One run of the docs-style app: one prefork worker, one process per TTAPI place."""
    workdir = tmp / f"{sc.key}-docs-{attempt}"
    workdir.mkdir(parents=True, exist_ok=True)
    keys = keys_for(sc)
    client = redis.Redis.from_url(server.url)
    client.flushall()
    sim = Simulator(sim_config(sc, keys)).start()
    env = {
        "REDIS_URL": server.url,
        "TTAPI_API_KEYS": ",".join(keys),
        "TTAPI_BASE_URL": sim.url,
        "DOCS_POLL_S": str(sc.docs_poll_s),
    }
    args = ["worker", "-c", str(sc.docs_concurrency), "-l", "INFO"]
    args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    node = CeleryProcess(env, workdir / "docs.log", args=args, app="tests.bench.docs_style")
    app = client_app(server.url)
    try:
        node.start().wait_ready(timeout=120)
        meter = CostMeter(client, lambda: [node.proc.pid] if node.proc else [])

        def send(i: int) -> Any:
            prompt = f"bench {sc.key} prompt {i}"
            if sc.callers:  # it knows no tenant nor priority: the prompt says them, for analysis
                prompt = mixed.call_of(sc.callers, sc.key, sc.jobs, i)[0]
            return app.send_task("docs.imagine", args=(prompt, i % sc.accounts))

        marks: dict[str, float] = {}
        makespan, ok, timed_out, releases, origin = _drive(sc, sim, send, meter, marks)
        stats = sim.stats()
    finally:
        node.stop()
        sim.stop()
        client.close()
    return RunResult(
        sc, run, makespan, ok, timed_out, stats, meter.cost, releases, origin, attempt, marks
    )
