"""Rows where a node's engine itself breaks: killed outright, or stalled for 30 s."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

from tests.faults.harness import Harness, Plan
from tests.faults.registry import KEY_A, KEY_B, all_done, scenario
from tests.faults.row import Row
from worker.adapter.engine_step import ENGINE_MODULE
from worker.keys import KEYS

LATENCY = {"latency_submit_s": 0.3, "latency_fetch_s": 0.1}  # so a stop can hit a call


def engine_pid(h: Harness, i: int) -> int:
    """The pid of node `i`'s engine process (a child of its worker's main process)."""
    main = h.nodes[i].proc
    assert main is not None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == main.pid and ENGINE_MODULE.encode() in cmdline:
            return int(entry)
    raise RuntimeError(f"node {i} runs no engine")


def both_hold(h: Harness) -> bool:
    """Each of the two nodes' engines holds an account (they shared them out)."""
    return {node.split("@")[0] for node in held_by(h).values()} == {"node0", "node1"}


def held_by(h: Harness) -> dict[str, str]:
    """Which engine (its node's name) holds each account now."""
    return {lb: token.split("|")[0] for lb, token in tokens(h).items()}


def tokens(h: Harness) -> dict[str, str]:
    """The lease token (`node|random`, one per engine process) on each account now."""
    owners = h.redis.mget([KEYS.owner(label) for label in h.labels])
    return {lb: str(o) if o else "" for lb, o in zip(h.labels, owners, strict=True)}


@scenario(21, "engine-kill", "node 1's engine SIGKILLed mid-run (two nodes, two keys)")
def engine_kill(workdir: Path) -> Row:
    """All done, none paid twice; node 1's accounts get an engine again within one lease."""
    started = time.monotonic()
    lease = 3.0
    plan = Plan(keys=[KEY_A, KEY_B], fast_s=2.0, env={"MJ_ENGINE_LEASE_S": str(lease)})
    with Harness(plan, workdir) as h:
        h.wait_until(lambda: both_hold(h), 20)
        sent = h.send(40, "engine-kill")
        h.wait_until(lambda: h.submits() >= 10, 20)
        dead = {lb: t for lb, t in tokens(h).items() if t.startswith("node1@")}
        theirs = list(dead)
        os.kill(engine_pid(h, 1), signal.SIGKILL)
        killed_at = time.monotonic()
        # The dead engine's token stays in the lease key until it lapses: wait for another
        # one (the other node's engine, or node 1's engine started again), not for any.
        back = h.wait_until(
            lambda: bool(dead) and all(tokens(h)[lb] not in ("", t) for lb, t in dead.items()), 30
        )
        without = time.monotonic() - killed_at
        outcomes = h.wait(sent, 90)
        slots = h.settle_slots(15)
        took = len(re.findall(r"took acct-", h.log_text()))
        return h.row(
            "engine-kill",
            outcomes,
            started,
            slots=slots,
            extra=f"node 1 held {len(theirs)}; engine again after {without:.1f} s "
            f"(lease {lease:.0f} s), takeovers logged {took}",
            checks={
                "node 1's engine held an account": bool(theirs),
                "its accounts had an engine again within one lease and a beat": back
                and without <= lease * 1.5,
                "all done": all_done(outcomes),
                "0 double submits": h.doubles([s.prompt for s in sent]) == 0,
                "0 slots left": slots == 0,
            },
        )


@scenario(22, "engine-stall", "node 1's engine stopped (SIGSTOP) for 30 s mid-run, then resumed")
def engine_stall(workdir: Path) -> Row:
    """No double submit when it wakes; all done; its accounts went on on the other node."""
    started = time.monotonic()
    plan = Plan(keys=[KEY_A, KEY_B], fast_s=2.0, env={"MJ_ENGINE_LEASE_S": "3"})
    with Harness(plan, workdir) as h:
        h.sim().set_faults(**LATENCY)
        h.wait_until(lambda: both_hold(h), 20)
        sent = h.send(60, "engine-stall")
        h.wait_until(lambda: h.submits() >= 12, 30)
        theirs = [lb for lb, node in held_by(h).items() if node.startswith("node1@")]
        pid = engine_pid(h, 1)
        os.kill(pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        try:
            moved = h.wait_until(
                lambda: all(held_by(h)[lb].startswith("node0@") for lb in theirs), 20
            )
            time.sleep(max(0.0, 30 - (time.monotonic() - stopped_at)))  # a 30 s stall
        finally:
            os.kill(pid, signal.SIGCONT)
        resumed_at = time.monotonic()
        outcomes = h.wait(sent, 120)
        slots = h.settle_slots(15)
        return h.row(
            "engine-stall",
            outcomes,
            started,
            slots=slots,
            extra=f"node 1 held {len(theirs)}, moved to node 0 during the stall: {moved}; "
            f"stopped {resumed_at - stopped_at:.0f} s",
            checks={
                "node 1's engine held an account": bool(theirs),
                "its accounts moved to node 0": moved,
                "stopped for 30 s from the SIGSTOP": resumed_at - stopped_at >= 30,
                "all done": all_done(outcomes),
                "0 double submits": h.doubles([s.prompt for s in sent]) == 0,
                "0 slots left": slots == 0,
            },
        )
