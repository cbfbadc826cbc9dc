"""End to end behind sentinels: the master SIGKILLed mid-run, a replica promoted, a real celery
worker (with its engine and beat) following it; no job lost, none paid twice.

A real master, two replicas and three sentinels (tests/support/sentinel.py), the simulator and
one `celery worker -B` subprocess; the longer rows (two nodes, a paused replica, lost writes)
run in `make faults` (tests/faults/scenarios_redis.py).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.sentinel import SentinelSet
from tests.support.stack import Stack
from worker.keys import KEYS

pytestmark = pytest.mark.e2e
KEY = "sk-e2e-sentinel-account-0001"
JOBS = 16
CAP = 5


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelSet]:
    found = SentinelSet(tmp_path / "redis", replicas=2).start()
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture
def stack(sentinels: SentinelSet, tmp_path: Path) -> Iterator[Stack]:
    made = Stack(sentinels, tmp_path, keys=[KEY], capacity=CAP, fast_s=2.0, nodes=1)
    try:
        yield made.start()
    finally:
        made.stop()


def wait_all(s: Stack, results: list[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not all(ready(r) for r in results):
        if time.monotonic() > deadline:
            stuck = {r.id: s.redis.hgetall(KEYS.job(r.id)) for r in results if not ready(r)}
            raise AssertionError(f"{len(stuck)} jobs never ended: {stuck}\n{s.logs()}")
        time.sleep(0.2)


def ready(result: Any) -> bool:
    try:
        return bool(result.ready())
    except Exception:  # the backend is failing over: ask again
        return False


def test_a_failover_mid_run_loses_no_job_and_pays_none_twice(
    sentinels: SentinelSet, stack: Stack
) -> None:
    results = [stack.send("mj.imagine", f"a lighthouse behind sentinels {i}") for i in range(JOBS)]
    label = stack.labels[0]
    stack.wait_for(lambda: stack.sim.stats()["accounts"][label]["submits"] >= CAP, 30)
    old = sentinels.master()
    old.kill()
    sentinels.wait_promoted(old)
    old.start()  # back, to be turned into a replica of the new master
    wait_all(stack, results, 60)
    assert [r.get(timeout=10)["status"] for r in results] == ["SUCCESS"] * JOBS
    created = Counter(j["prompt"] for j in stack.sim.stats()["jobs"].values())
    assert max(created.values()) == 1 and len(created) == JOBS  # none paid twice
    assert stack.sim.stats()["accounts"][label]["peak_in_progress"] <= CAP
    assert all(node.alive() for node in stack.nodes)
    stack.wait_for(lambda: stack.holders(label) == 0, 15)
