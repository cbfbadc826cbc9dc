"""Rows where the platform breaks: a node killed, Redis restarted, a skewed clock, a
key taken out of the configuration."""

from __future__ import annotations

import time
from pathlib import Path

from tests.faults.harness import Harness, Plan
from tests.faults.registry import JOBS, KEY_A, KEY_B, all_done, clock_offset, scenario
from tests.faults.row import Row
from worker.devtools.embedded import clock_offset_env


@scenario(1, "worker-kill", "SIGKILL node 1 of 2 twice during the run, restarting it between")
def worker_kill(workdir: Path) -> Row:
    """All done, none paid twice: the pump and redelivery repair what the dead node held."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A], fast_s=3.0), workdir) as h:
        sent = h.send(JOBS, "worker-kill")
        busy = []
        for threshold in (12, 26):

            def reached(t: int = threshold) -> bool:
                return h.submits() >= t

            h.wait_until(reached, 60)
            busy.append(h.received(1) > 0)
            h.kill_node(1)
            h.start_node(1)
        outcomes = h.wait(sent, 90)
        slots = h.settle_slots(15)
        doubles = h.doubles([s.prompt for s in sent])
        return h.row(
            "worker-kill",
            outcomes,
            started,
            slots=slots,
            extra="2 kills",
            checks={
                "node 1 had work at each kill": all(busy),
                "all done": all_done(outcomes),
                "0 double submits": doubles == 0,
            },
        )


@scenario(2, "redis-restart", "Redis restarted cleanly (SIGTERM, AOF on, same port and dir)")
def redis_restart(workdir: Path) -> Row:
    """All done, workers still alive, none paid twice."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A], fast_s=2.0), workdir) as h:
        sent = h.send(JOBS, "redis-restart")
        hit = h.wait_until(lambda: h.submits() >= 15, 45)
        h.single.stop()
        time.sleep(1.0)
        h.single.start()
        outcomes = h.wait(sent, 45)
        alive = sum(n.alive() for n in h.nodes)
        slots = h.settle_slots(10)
        doubles = h.doubles([s.prompt for s in sent])
        return h.row(
            "redis-restart",
            outcomes,
            started,
            slots=slots,
            checks={
                "outage mid-run": hit,
                "0 double submits": doubles == 0,
                "all done": all_done(outcomes),
                "workers alive": alive == len(h.nodes),
            },
            extra=f"nodes alive {alive}/{len(h.nodes)}",
        )


@scenario(12, "clock-skew", "node 1's wall clock 90 s ahead (libfaketime), node 0 true")
def clock_skew(workdir: Path) -> Row:
    """All done, none paid twice, although the two nodes disagree on the time by 90 s; and the
    node ahead never loops on messages it takes for due too early (Celery fires countdowns by
    the local clock): it takes at most two messages per job (its entry, and its report when
    that goes out as a message)."""
    started = time.monotonic()
    plan = Plan(keys=[KEY_A], fast_s=2.0, node_env={1: clock_offset_env(90)})
    with Harness(plan, workdir) as h:
        offset = clock_offset(h.nodes[1].log_path)
        sent = h.send(JOBS, "clock-skew")
        outcomes = h.wait(sent, 90)
        took = h.received(1)
        slots = h.settle_slots(15)
        doubles = h.doubles([s.prompt for s in sent])
        shown = "?" if offset is None else f"{offset:+.1f}"
        return h.row(
            "clock-skew",
            outcomes,
            started,
            slots=slots,
            extra=f"node 1 clock {shown} s, took {took} messages",
            checks={
                "node 1's clock really off": offset is not None and 85 < offset < 95,
                "node 1 took work": took > 0,
                "node 1 took at most two messages a job": took <= 2 * JOBS,
                "all done": all_done(outcomes),
                "0 double submits": doubles == 0,
            },
        )


@scenario(13, "key-removed", "key B removed from TTAPI_API_KEYS mid-run (all nodes restarted)")
def key_removed(workdir: Path) -> Row:
    """The removed key's jobs end clearly (FAILURE naming its account); the others are done."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A, KEY_B], capacity=5, fast_s=3.0), workdir) as h:
        label_b = h.labels[1]
        sent = h.send(JOBS, "key-removed")
        hit = h.wait_until(lambda: h.account(label_b, "submits") >= 3 and h.submits() >= 12, 45)
        h.restart_all({"TTAPI_API_KEYS": KEY_A})
        outcomes = h.wait(sent, 90)
        slots = h.settle_slots(10)
        failed = [o for o in outcomes if o.state not in ("SUCCESS", "HUNG")]
        return h.row(
            "key-removed",
            outcomes,
            started,
            slots=slots,
            extra=f"failures naming {label_b}: {sum(label_b in o.message for o in failed)}",
            checks={
                "key B had jobs when removed": hit,
                "none hung": not any(o.state == "HUNG" for o in outcomes),
                "failures name the account": all(
                    o.state == "FAILURE" and label_b in o.message for o in failed
                ),
            },
        )
