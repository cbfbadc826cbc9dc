"""Rows where the result store breaks: away for a while, a worker killed mid-upload, 500s.

The store is moto's S3 server on loopback (this process), behind a `FaultyProxy` the workers
take for the store (tests/support/s3.py); the simulator's CDN serves the images.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.faults.harness import Harness, Plan
from tests.faults.registry import KEY_A, KEY_B, all_done, scenario
from tests.faults.row import Outcome, Row
from tests.faults.scenarios_engine import both_hold, held_by
from tests.support.s3 import FaultyProxy, S3Server, storage_env
from worker.jobs.record import RecordState
from worker.keys import KEYS

BUCKET, PREFIX = "mj-faults", "results"
PER_IMAGINE = 10  # main, 1..4 and a thumbnail of each


@contextmanager
def store(**proxy: float) -> Iterator[tuple[S3Server, FaultyProxy]]:
    """The S3 server and, in front of it, the proxy (down until the scenario says up)."""
    s3 = S3Server(BUCKET).start()
    front = FaultyProxy(("127.0.0.1", s3.port), **proxy)
    try:
        yield s3, front
    finally:
        front.down()
        s3.stop()


def plan(front: FaultyProxy, keys: list[str], **env: str) -> Plan:
    """Two nodes storing through `front`; the simulator's CDN is on loopback."""
    values = {
        **storage_env(front.endpoint, BUCKET, PREFIX),
        "MJ_DOWNLOAD_ALLOW_PRIVATE": "true",
        "MJ_ENGINE_LEASE_S": "3",
        **env,
    }
    return Plan(keys=keys, fast_s=2.0, env=values)


def stored_once(s3: S3Server, outcomes: list[Outcome]) -> bool:
    """Every result has `stored`, and its folder holds exactly one set of objects."""
    for o in outcomes:
        stored = o.value.get("stored") if o.state == "SUCCESS" else None
        if not stored:
            return False
        folder = stored["objects"]["image_url"].rsplit("/", 1)[0]
        if len(s3.keys(f"{PREFIX}/{folder}/")) != PER_IMAGINE:
            return False
    return True


def produced_once(h: Harness, sent: list) -> bool:
    """Each task's result was produced exactly once (the nodes' logs)."""
    return set(h.results_per_task(sent)) == {1}


@scenario(40, "store-down", "the store away for 3 job durations while 4 jobs end")
def store_down(workdir: Path) -> Row:
    """All 4 end stored once it is back; none paid twice; no slot held through the outage."""
    started = time.monotonic()
    outage_s = 3 * 2.0
    with store() as (s3, front), Harness(plan(front, [KEY_A]), workdir) as h:
        sent = h.send(4, "store-down")
        down_at = time.monotonic()
        ended = h.wait_until(
            lambda: all(
                h.redis.hget(KEYS.job(s.result.id), "state") == RecordState.SUCCESS for s in sent
            ),
            30,
        )
        held_slots = h.slots()
        delivered = sum(s.result.ready() for s in sent)
        # The outage is the scenario: it lasts 3 job durations from the first send.
        time.sleep(max(0.0, outage_s - (time.monotonic() - down_at)))
        held_slots = max(held_slots, h.slots())
        delivered += sum(s.result.ready() for s in sent)
        front.up()
        back_at = time.monotonic()
        outcomes = h.wait(sent, 60)
        after = time.monotonic() - back_at
        slots = h.settle_slots(15)
        return h.row(
            "store-down",
            outcomes,
            started,
            slots=slots,
            extra=f"down {outage_s:.0f} s; during it {held_slots} slots held, {delivered} "
            f"delivered; all delivered {after:.1f} s after it was back",
            checks={
                "the jobs ended at TTAPI during the outage": ended,
                "no slot held for the outage": held_slots == 0,
                "nothing delivered unstored": delivered == 0,
                "all done": all_done(outcomes),
                "all stored, one set of objects each": stored_once(s3, outcomes),
                "each result produced once": produced_once(h, sent),
                "0 double submits": h.doubles([s.prompt for s in sent]) == 0,
                "0 slots left": slots == 0,
            },
        )


@scenario(41, "store-kill", "the node copying results SIGKILLed mid-upload (two nodes)")
def store_kill(workdir: Path) -> Row:
    """Another node stores the jobs, once; none paid twice; each result delivered once."""
    started = time.monotonic()
    with (
        store(slow_writes_s=0.4) as (s3, front),
        Harness(plan(front, [KEY_A, KEY_B]), workdir) as h,
    ):
        front.up()
        h.wait_until(lambda: both_hold(h), 20)
        theirs = {lb for lb, node in held_by(h).items() if node.startswith("node1@")}
        front.hold()  # every write waits at the store's door until node 1 is dead
        # Half pinned to node 1's account: the pool would otherwise put all 8 on one account.
        sent = h.send(4, "store-kill", account=sorted(theirs)[0])
        sent += h.send(4, "store-kill-free")

        def node1_uploading() -> bool:
            storing = [str(j) for j in h.redis.zrange(KEYS.storing, 0, -1)]
            accounts = {h.redis.hget(KEYS.job(j), "account") for j in storing}
            return front.counts["in_flight"] > 0 and bool(accounts & theirs)

        mid = h.wait_until(node1_uploading, 30)
        in_flight = front.counts["in_flight"]
        h.kill_node(1)
        front.release()
        outcomes = h.wait(sent, 90)
        slots = h.settle_slots(15)
        return h.row(
            "store-kill",
            outcomes,
            started,
            slots=slots,
            extra=f"node 1 killed with {in_flight} writes in flight; "
            f"{front.counts['writes']} writes in all",
            checks={
                "killed mid-upload": mid and in_flight > 0,
                "all done": all_done(outcomes),
                "all stored, one set of objects each": stored_once(s3, outcomes),
                "each result produced once": produced_once(h, sent),
                "0 double submits": h.doubles([s.prompt for s in sent]) == 0,
                "0 slots left": slots == 0,
            },
        )


@scenario(42, "store-500", "the store answers 500 to 30 % of writes (40 jobs, two keys)")
def store_500(workdir: Path) -> Row:
    """All stored, one set of objects each, each delivered once, none paid twice."""
    started = time.monotonic()
    with store(fail_writes=0.3) as (s3, front), Harness(plan(front, [KEY_A, KEY_B]), workdir) as h:
        front.up()
        sent = h.send(40, "store-500")
        outcomes = h.wait(sent, 120)
        slots = h.settle_slots(15)
        failures = int(h.redis.get(KEYS.storage_failures) or 0)
        return h.row(
            "store-500",
            outcomes,
            started,
            slots=slots,
            extra=f"writes={front.counts['writes']}, 500s={front.counts['failed']}, "
            f"given up={failures}",
            checks={
                "all done": all_done(outcomes),
                "all stored, one set of objects each": stored_once(s3, outcomes),
                "each result produced once": produced_once(h, sent),
                "0 double submits": h.doubles([s.prompt for s in sent]) == 0,
                "0 slots left": slots == 0,
            },
        )


__all__ = ["store_500", "store_down", "store_kill"]
