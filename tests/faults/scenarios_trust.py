"""Rows of the second trust pass: backlogs that end at once, duplicated publishes on two keys,
a proxy's 502 after create, overlapping pumps, and an input too big to carry."""

from __future__ import annotations

import base64
import time
from collections import Counter
from pathlib import Path

from tests.faults.harness import Harness, Plan, Sent
from tests.faults.registry import KEY_A, KEY_B, all_done, none_hung, scenario
from tests.faults.row import Row
from worker.devtools.simulator.config import SUBMIT_PATHS


@scenario(15, "expires-backlog", "300 jobs with expires=2 s behind a full account, then 10 fresh")
def expires_backlog(workdir: Path) -> Row:
    """Every one ends (delivered or REVOKED) once; the 10 sent after them are all done."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A], fast_s=3.0), workdir) as h:
        sent = h.send(300, "backlog", expires=2.0)
        outcomes = h.wait(sent, 60)
        fresh_sent = h.send(10, "after-backlog")
        fresh = h.wait(fresh_sent, 30)
        slots = h.settle_slots(10)
        ran, once = h.submitted(), h.results_per_task(sent)
        states = Counter(o.state for o in outcomes)
        return h.row(
            "expires-backlog",
            outcomes + fresh,
            started,
            slots=slots,
            extra=f"{dict(states)}, results per task {dict(once)}",
            checks={
                "every one ended": states.keys() <= {"SUCCESS", "REVOKED"},
                "jobs TTAPI ran delivered": all(
                    o.state == "SUCCESS" for o in outcomes if ran[o.prompt]
                ),
                "each result at most once": max(once) <= 1,
                "10 fresh jobs done": all_done(fresh),
            },
        )


@scenario(16, "402-backlog", "400 jobs on two keys; A's balance runs out with ~190 parked on it")
def backlog_402(workdir: Path) -> Row:
    """All done on B (those A ran before the 402 aside), none paid twice, no slot left."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A, KEY_B], fast_s=1.0), workdir) as h:
        a = h.labels[0]
        sent = h.send(400, "broke")
        h.wait_until(lambda: len(h.waiters(a)) >= 150, 30)
        parked = len(h.waiters(a))
        h.sim().set_account(KEY_A, balance=0)
        outcomes = h.wait(sent, 150)
        slots = h.settle_slots(10)
        return h.row(
            "402-backlog",
            outcomes,
            started,
            slots=slots,
            extra=f"parked on A at the 402: {parked}, 402s={h.account(a, 'count_402')}, "
            f"on B={h.account(h.labels[1], 'submits')}",
            checks={
                "a backlog was parked on A": parked >= 150,
                "all done": all_done(outcomes),
                "0 double submits": h.doubles([s.prompt for s in sent]) == 0,
                "0 slots left": slots == 0,
            },
        )


@scenario(17, "duplicates-two-keys", "every imagine published twice (one task id), 2 keys, 2 nodes")
def duplicates_two_keys(workdir: Path) -> Row:
    """Each prompt submitted once, each result once, every result on the account that ran it."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A, KEY_B], fast_s=2.0), workdir) as h:
        sent = h.send(40, "twice", copies=2)
        outcomes = h.wait(sent, 60)
        slots = h.settle_slots(10)
        once = h.results_per_task(sent)
        made = h.stats()["jobs"]
        wrong = sum(
            1
            for o in outcomes
            if o.state == "SUCCESS" and made[o.value["job_id"]]["label"] != o.value["account"]
        )
        return h.row(
            "duplicates-two-keys",
            outcomes,
            started,
            slots=slots,
            extra=f"results per task: {dict(once)}, wrong account: {wrong}",
            checks={
                "all done": all_done(outcomes),
                "0 double submits": h.doubles([s.prompt for s in sent]) == 0,
                "each result once": set(once) == {1},
                "the right account in every result": wrong == 0,
            },
        )


@scenario(18, "proxy-502", "a proxy's HTML 502 after the job was created, on 30 % of submits")
def proxy_502(workdir: Path) -> Row:
    """All done and none paid twice: a 502 may follow a created job, so it is reconciled."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A], fast_s=1.5, sim={"seed": 4}), workdir) as h:
        h.sim().set_faults(rate_502_after_create=0.3, fault_paths=list(SUBMIT_PATHS))
        sent = h.send(40, "proxied")
        outcomes = h.wait(sent, 60)
        slots = h.settle_slots(10)
        n502 = h.total("count_502")
        return h.row(
            "proxy-502",
            outcomes,
            started,
            slots=slots,
            extra=f"502s={n502}",
            checks={
                "502s injected": n502 > 0,
                "all done": all_done(outcomes),
                "0 double submits": h.doubles([s.prompt for s in sent]) == 0,
            },
        )


@scenario(19, "two-pumps", "two beats (two pumps overlapping, every 0.1 s), 40 jobs, 2 nodes")
def two_pumps(workdir: Path) -> Row:
    """Each outcome delivered once however the pumps overlap."""
    started = time.monotonic()
    plan = Plan(keys=[KEY_A], fast_s=1.5, env={"MJ_PUMP_INTERVAL_S": "0.1"})
    with Harness(plan, workdir) as h:
        h.start_node(1, beat=True)  # node 0 runs a beat too
        sent = h.send(40, "pumped")
        outcomes = h.wait(sent, 60)
        slots = h.settle_slots(10)
        once = h.results_per_task(sent)
        return h.row(
            "two-pumps",
            outcomes,
            started,
            slots=slots,
            extra=f"results per task: {dict(once)}",
            checks={"all done": all_done(outcomes), "each result once": set(once) == {1}},
        )


@scenario(20, "big-blend", "a blend of two 30 MB images")
def big_blend(workdir: Path) -> Row:
    """Refused within seconds with a clear error, no HTTP call, Redis back to its size."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A], nodes=1), workdir) as h:
        image = "data:image/png;base64," + base64.b64encode(b"\x89PNG" + bytes(30 << 20)).decode()
        before = int(h.redis.info("memory")["used_memory"])
        sent_at = time.monotonic()
        result = h.stack.app.send_task("mj.blend", kwargs={"images": [image, image]})
        del image
        ended: dict[str, float] = {}
        [outcome] = h.wait([Sent("a blend of two 30 MB images", result)], 60, ended)
        took = ended.get(result.id, time.monotonic()) - sent_at
        h.wait_until(lambda: h.redis.llen("celery") == 0, 10)
        after = int(h.redis.info("memory")["used_memory"])
        grown_mb = (after - before) / 2**20
        requests = h.account(h.labels[0], "submits")
        return h.row(
            "big-blend",
            [outcome],
            started,
            slots=h.settle_slots(5),
            extra=f"refused in {took:.1f} s, Redis +{grown_mb:.1f} MB after, {requests} submits",
            checks={
                "refused clearly": none_hung([outcome])
                and "MJ_INLINE_IMAGE_MAX_BYTES" in outcome.message,
                "within seconds": took < 15,
                "no HTTP call": requests == 0,
                "Redis back to its size": grown_mb < 2,
            },
        )
