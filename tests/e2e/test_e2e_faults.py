"""End to end under faults: a worker node SIGKILLed mid-flight, a 429 storm, another client.

Real redis-server, the simulator and real `celery worker` subprocesses (tests/stack.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.stack import Stack
from worker.devtools.embedded import CeleryProcess
from worker.keys import KEYS

pytestmark = pytest.mark.e2e
KEY = "sk-e2e-faults-account-0001"
JOBS = 30


def received(node: CeleryProcess) -> int:
    """How many task messages a node has taken (its log says so at INFO)."""
    text = node.log_path.read_text(errors="replace") if node.log_path.exists() else ""
    return text.count("] received")


def wait_all(s: Stack, results: list[Any], timeout: float) -> None:
    """Wait for every result; on timeout, fail showing the records of the jobs still open."""
    deadline = time.monotonic() + timeout
    while not all(r.ready() for r in results):
        if time.monotonic() > deadline:
            stuck = {r.id: s.redis.hgetall(KEYS.job(r.id)) for r in results if not r.ready()}
            raise AssertionError(f"{len(stuck)} jobs never ended: {stuck}\n{s.logs()}")
        time.sleep(0.1)


def test_killing_a_node_mid_flight_loses_no_job_and_pays_none_twice(
    make_stack: Callable[..., Stack],
) -> None:
    # Unacked messages of the dead node come back only after the visibility timeout (3600 s
    # by default): the pump on the surviving node (it runs beat) must repair everything.
    s = make_stack(keys=[KEY], capacity=10, fast_s=1.5, nodes=2)
    results = [s.send("mj.imagine", f"a harbour at night {i}") for i in range(JOBS)]
    label = s.labels[0]
    s.wait_for(lambda: s.sim.stats()["accounts"][label]["submits"] >= 12, 30)
    assert received(s.nodes[1]) > 0, "node 1 took no work: the kill would prove nothing"
    s.nodes[1].kill()
    s.nodes[1].stop()
    wait_all(s, results, 40)
    done = [r.get(timeout=5) for r in results]
    assert [d["status"] for d in done] == ["SUCCESS"] * JOBS
    stats = s.sim.stats()["accounts"][label]
    assert stats["submits"] == JOBS  # none paid twice
    assert stats["peak_in_progress"] <= 10
    assert stats["count_499"] == 0
    s.wait_for(lambda: s.holders(label) == 0, 10)


def test_a_429_storm_on_every_endpoint_fails_no_job(make_stack: Callable[..., Stack]) -> None:
    s = make_stack(keys=[KEY], capacity=10, fast_s=1.0, sim={"retry_after_header": False})
    s.sim.set_faults(rate_429=0.3)
    results = [s.send("mj.imagine", f"a gusty shore {i}") for i in range(JOBS)]
    done = [r.get(timeout=60) for r in results]
    assert [d["status"] for d in done] == ["SUCCESS"] * JOBS
    stats = s.sim.stats()["accounts"][s.labels[0]]
    assert stats["count_429"] > 0
    assert (stats["count_499"], stats["submits"]) == (0, JOBS)
    assert stats["peak_in_progress"] <= 10


def test_another_client_holding_most_of_the_key_delays_jobs_but_fails_none(
    make_stack: Callable[..., Stack],
) -> None:
    # The occupancy row of `python -m tests.faults` (timing is reported there, not asserted).
    s = make_stack(keys=[KEY], capacity=10, fast_s=2.0, nodes=1)
    label = s.labels[0]
    s.sim.set_faults(other_client={label: 7})
    results = [s.send("mj.imagine", f"a crowded quay {i}") for i in range(40)]
    time.sleep(8.0)  # the other client's jobs run that long
    s.sim.set_faults(other_client={})
    wait_all(s, results, 60)
    assert [r.get(timeout=5)["status"] for r in results] == ["SUCCESS"] * 40
    stats = s.sim.stats()["accounts"][label]
    assert stats["count_499"] > 0
    assert stats["submits"] == 40  # a 499 created nothing; nothing was paid twice
    assert stats["peak_in_progress"] <= 10  # theirs and ours together
    s.wait_for(lambda: s.holders(label) == 0, 10)


def test_jobs_whose_expires_passes_while_they_wait_end_revoked_and_leak_no_slot(
    make_stack: Callable[..., Stack],
) -> None:
    s = make_stack(keys=[KEY], capacity=3, fast_s=5.0)
    label = s.labels[0]
    first = [
        s.app.send_task("mj.imagine", args=[f"an expiring tide {i}"], expires=2.5) for i in range(6)
    ]  # 3 run at once; 3 wait longer than their expires
    wait_all(s, first, 30)
    states = sorted(r.state for r in first)
    assert states == ["REVOKED"] * 3 + ["SUCCESS"] * 3  # what TTAPI ran is delivered
    assert s.sim.stats()["accounts"][label]["submits"] == 3
    later = [s.send("mj.imagine", f"a later tide {i}") for i in range(3)]
    assert [r.get(timeout=30)["status"] for r in later] == ["SUCCESS"] * 3
    s.wait_for(lambda: s.holders(label) == 0, 10)


def test_revoking_parked_jobs_cancels_them_and_frees_their_places(
    make_stack: Callable[..., Stack],
) -> None:
    s = make_stack(keys=[KEY], capacity=2, fast_s=8.0)
    label = s.labels[0]
    busy = [s.send("mj.imagine", f"a busy pier {i}") for i in range(2)]
    s.wait_for(lambda: s.holders(label) == 2, 20)  # the busy ones hold both slots first
    parked = [s.send("mj.imagine", f"a cancelled pier {i}") for i in range(3)]
    s.wait_for(lambda: all(s.redis.hget(KEYS.job(r.id), "state") == "WAITING" for r in parked), 20)
    for r in parked:
        r.revoke()
    later = [s.send("mj.imagine", f"a later pier {i}") for i in range(2)]
    assert [r.get(timeout=30)["status"] for r in busy + later] == ["SUCCESS"] * 4
    s.wait_for(lambda: all(r.state == "REVOKED" for r in parked), 20)
    prompts = [j["prompt"] for j in s.sim.stats()["jobs"].values()]
    assert not [p for p in prompts if "cancelled" in p]  # none of them was submitted
    s.wait_for(lambda: s.holders(label) == 0, 10)
    assert s.redis.zcard(KEYS.waiters(label)) == 0
