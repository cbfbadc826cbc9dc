"""Rows where Celery itself gets in the way: `expires`, `revoke()` and duplicated messages."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from tests.faults.harness import Harness, Plan
from tests.faults.registry import JOBS, KEY_A, all_done, scenario
from tests.faults.row import Row


@scenario(4, "expires", "20 jobs sent with expires=1.5 s on a cap of 10 (10 wait longer)")
def expires(workdir: Path) -> Row:
    """None hung, jobs TTAPI ran are delivered, no slot leaked, and 10 fresh jobs then finish."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A], fast_s=3.0), workdir) as h:
        sent = h.send(20, "expires", expires=1.5)
        outcomes = h.wait(sent, 30)
        leaked = h.settle_slots(10)
        fresh = h.wait(h.send(10, "expires-fresh"), 25)
        slots = h.settle_slots(10)
        ran = h.submitted()
        states = Counter(o.state for o in outcomes)
        return h.row(
            "expires",
            outcomes + fresh,
            started,
            slots=max(leaked, slots),
            extra=f"first 20: {dict(states)}, {sum(ran[o.prompt] > 0 for o in outcomes)}"
            f" ran; slots held after them {leaked}",
            checks={
                "none hung": not any(o.state == "HUNG" for o in outcomes),
                "jobs TTAPI ran delivered": all(
                    o.state == "SUCCESS" for o in outcomes if ran[o.prompt]
                ),
                "0 leaked slots": leaked == 0 and slots == 0,
                "10 fresh jobs done": all_done(fresh),
            },
        )


@scenario(5, "revoke", "revoke() on the 5 jobs at the head of a full account's queue")
def revoke(workdir: Path) -> Row:
    """The revoked jobs are never submitted, no slot leaks, the others are done."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A], fast_s=3.0), workdir) as h:
        label = h.labels[0]
        sent = h.send(JOBS, "revoke")
        h.wait_until(lambda: len(h.waiters(label)) >= 20, 20)
        head = set(h.waiters(label)[:5])
        targets = [s for s in sent if s.result.id in head]
        for s in targets:
            s.result.revoke()
        outcomes = h.wait(sent, 60)
        slots = h.settle_slots(15)
        ran = h.submitted()
        revoked = {s.prompt for s in targets}
        ends = Counter(o.state for o in outcomes if o.prompt in revoked)
        return h.row(
            "revoke",
            outcomes,
            started,
            slots=slots,
            extra=f"revoked ended as {dict(ends)}",
            checks={
                "5 parked jobs revoked": len(targets) == 5,
                "revoked never submitted": not any(ran[p] for p in revoked),
                "0 leaked slots": slots == 0,
                "others done": all_done([o for o in outcomes if o.prompt not in revoked]),
            },
        )


@scenario(14, "duplicate-delivery", "every imagine published twice with the same task id")
def duplicate_delivery(workdir: Path) -> Row:
    """None paid twice, and each task's result is produced once."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A], fast_s=2.0), workdir) as h:
        sent = h.send(JOBS, "duplicate", copies=2)
        outcomes = h.wait(sent, 60)
        slots = h.settle_slots(10)
        logs = h.log_text()
        results = [logs.count(f"mj.imagine[{s.result.id}] succeeded") for s in sent]
        doubles = h.doubles([s.prompt for s in sent])
        return h.row(
            "duplicate-delivery",
            outcomes,
            started,
            slots=slots,
            extra=f"results per task: {dict(Counter(results))}",
            checks={
                "all done": all_done(outcomes),
                "0 double submits": doubles == 0,
                "each result once": all(n == 1 for n in results),
            },
        )
