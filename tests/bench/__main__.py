"""`make bench`: makespan and fetches per job against the physical limit and a naive baseline.

100 imagine jobs on one account (cap 10, simulator fast duration 2 s, MJ_POLL_MIN_S=0.05,
MJ_POLL_MAX_S=0.5), once with exact durations (physical limit ceil(100 / 10) × 2 s = 20 s) and
once with durations spread ±20 % (limit: the simulator's total job time / cap). The baseline,
measured in the same run on a fresh simulator, is what one would write by hand: 10 threads that
each submit and then fetch every MJ_POLL_MAX_S until done. All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from config.settings import Account
from tests.support.stack import Stack
from worker.devtools.embedded import RedisServer
from worker.devtools.simulator import SimConfig, Simulator
from worker.ttapi.client import TTAPIClient

KEY = "sk-bench-account-0001"


def run_engine(
    redis_server: RedisServer,
    tmp: Path,
    jobs: int,
    fast_s: float,
    cap: int,
    nodes: int,
    jitter: float,
) -> dict[str, Any]:
    """Makespan and fetches/job of mj-worker with `nodes` worker nodes (4 processes each)."""
    stack = Stack(
        redis_server,
        tmp,
        keys=[KEY],
        capacity=cap,
        fast_s=fast_s,
        nodes=nodes,
        concurrency=4,
        sim={"jitter": jitter},
    ).start()
    try:
        t0 = time.monotonic()
        results = [stack.send("mj.imagine", f"benchmark prompt {i}") for i in range(jobs)]
        done = [r.get(timeout=600) for r in results]
        makespan = time.monotonic() - t0
        stats = stack.sim.stats()
    finally:
        stack.stop()
    return _summary(
        "mj-worker",
        makespan,
        stats,
        jobs,
        cap,
        ok=sum(d["status"] == "SUCCESS" for d in done),
        nodes=nodes,
    )


def run_baseline(
    jobs: int, fast_s: float, cap: int, poll_s: float, jitter: float
) -> dict[str, Any]:
    """A hand-written client: `cap` threads, each submit then fetch every `poll_s`."""
    with Simulator(SimConfig(keys=[KEY], capacity=cap, fast_s=fast_s, jitter=jitter)) as sim:
        todo = list(range(jobs))
        lock = threading.Lock()
        ok = [0]

        def worker() -> None:
            client = TTAPIClient(Account.from_key(KEY), sim.url)
            while True:
                with lock:
                    if not todo:
                        return
                    i = todo.pop()
                job = client.imagine(f"benchmark prompt {i}").job_id
                while True:
                    time.sleep(poll_s)
                    if client.fetch(job).finished:
                        with lock:
                            ok[0] += 1
                        break

        t0 = time.monotonic()
        threads = [threading.Thread(target=worker) for _ in range(cap)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        makespan = time.monotonic() - t0
        return _summary("baseline (fixed polling)", makespan, sim.stats(), jobs, cap, ok=ok[0])


def _summary(
    name: str, makespan: float, stats: dict[str, Any], jobs: int, cap: int, **extra: Any
) -> dict[str, Any]:
    acct = next(iter(stats["accounts"].values()))
    fetches = [j["fetches"] for j in stats["jobs"].values()]
    # The physical limit of this run: the simulator's own job durations spread over `cap` slots.
    work = sum(j["finished_at"] - j["submitted_at"] for j in stats["jobs"].values())
    longest = max(
        (j["finished_at"] - j["submitted_at"] for j in stats["jobs"].values()), default=0.0
    )
    limit = max(work / cap, longest)
    return {
        "name": name,
        "makespan_s": round(makespan, 2),
        "jobs": jobs,
        "limit_s": round(limit, 2),
        "utilisation": round(limit / makespan, 3),
        "fetches_per_job": round(sum(fetches) / max(len(fetches), 1), 2),
        "max_fetches": max(fetches, default=0),
        "peak_in_progress": acct["peak_in_progress"],
        "count_499": acct["count_499"],
        "count_429": acct["count_429"],
        **extra,
    }


def run_scale(
    redis_server: RedisServer, tmp: Path, accounts: int, cap: int, fast_s: float
) -> dict[str, Any]:
    """DESIGN property 3: one node with 4 processes drives `accounts × cap` jobs at once."""
    keys = [f"sk-bench-scale-{i:04d}" for i in range(accounts)]
    jobs = accounts * cap
    stack = Stack(
        redis_server,
        tmp,
        keys=keys,
        capacity=cap,
        fast_s=fast_s,
        nodes=1,
        concurrency=4,
        env={"MJ_POLL_MIN_S": "0.5", "MJ_POLL_MAX_S": "5"},
    ).start()
    try:
        t0 = time.monotonic()
        results = [stack.send("mj.imagine", f"scale prompt {i}") for i in range(jobs)]
        done = [r.get(timeout=900) for r in results]
        makespan = time.monotonic() - t0
        stats = stack.sim.stats()
    finally:
        stack.stop()
    edges = sorted(
        [(j["submitted_at"], 1) for j in stats["jobs"].values()]
        + [(j["finished_at"], -1) for j in stats["jobs"].values()]
    )
    live = peak = 0
    for _, step in edges:
        live += step
        peak = max(peak, live)
    fetches = [j["fetches"] for j in stats["jobs"].values()]
    return {
        "jobs": jobs,
        "accounts": accounts,
        "cap": cap,
        "fast_s": fast_s,
        "ok": sum(d["status"] == "SUCCESS" for d in done),
        "peak_in_progress_total": peak,
        "makespan_s": round(makespan, 2),
        "fetches_per_job": round(sum(fetches) / max(len(fetches), 1), 2),
        "max_peak_per_account": max(a["peak_in_progress"] for a in stats["accounts"].values()),
        "count_499": sum(a["count_499"] for a in stats["accounts"].values()),
    }


def main() -> None:
    """Run the baseline and the engine with one and two nodes; print a table and JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--fast", type=float, default=2.0)
    parser.add_argument("--cap", type=int, default=10)
    parser.add_argument(
        "--jitter",
        type=float,
        nargs="*",
        default=[0.0, 0.2],
        help="scenarios: relative spread of job durations (0 = exactly --fast)",
    )
    parser.add_argument(
        "--scale",
        type=int,
        default=100,
        metavar="ACCOUNTS",
        help="property-3 run: ACCOUNTS × cap jobs at once on one node (0: skip)",
    )
    parser.add_argument("--out", default=".bench/results.json")
    args = parser.parse_args()
    nominal = math.ceil(args.jobs / args.cap) * args.fast
    scenarios = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server = RedisServer(tmp / "redis").start()
        try:
            for jitter in args.jitter:
                rows = [run_baseline(args.jobs, args.fast, args.cap, 0.5, jitter)]
                for nodes in (1, 2):
                    node_tmp = tmp / f"j{jitter}-nodes{nodes}"
                    node_tmp.mkdir()
                    rows.append(
                        run_engine(server, node_tmp, args.jobs, args.fast, args.cap, nodes, jitter)
                    )
                scenarios.append({"jitter": jitter, "runs": rows})
            scale = run_scale(server, tmp, args.scale, args.cap, 20.0) if args.scale else None
        finally:
            server.stop()
    print(
        f"{args.jobs} imagine jobs, cap {args.cap}, fast = {args.fast} s "
        f"(nominal physical limit {nominal:.1f} s); poll bounds 0.05..0.5 s"
    )
    for sc in scenarios:
        rows = sc["runs"]
        base = rows[0]["makespan_s"]
        print(f"\njob durations ±{sc['jitter']:.0%}")
        print(
            f"{'run':28} {'makespan':>9} {'limit':>7} {'util':>6} {'vs base':>8} "
            f"{'fetch/job':>9} {'peak':>5} {'499':>4}"
        )
        for r in rows:
            r["speedup_vs_baseline"] = round(base / r["makespan_s"], 3)
            label = r["name"] + (f" ({r['nodes']} node)" if "nodes" in r else "")
            print(
                f"{label:28} {r['makespan_s']:>8.2f}s {r['limit_s']:>6.2f}s "
                f"{r['utilisation']:>6.3f} {r['speedup_vs_baseline']:>7.2f}x "
                f"{r['fetches_per_job']:>9.2f} {r['peak_in_progress']:>5} {r['count_499']:>4}"
            )
    if scale:
        print(
            f"\none node, 4 processes: {scale['jobs']} jobs on {scale['accounts']} accounts "
            f"× cap {scale['cap']} ({scale['fast_s']:g} s jobs): {scale['ok']} ok, "
            f"{scale['peak_in_progress_total']} in progress at once "
            f"(max {scale['max_peak_per_account']} per account, {scale['count_499']} × 499), "
            f"makespan {scale['makespan_s']} s, {scale['fetches_per_job']} fetches/job"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"nominal_limit_s": nominal, "scenarios": scenarios, "scale": scale}, indent=2)
    )


if __name__ == "__main__":
    main()
