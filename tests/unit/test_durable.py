"""A submit's intent reaches the replicas before its POST; too few acknowledgements send nothing.

fakeredis knows no WAIT: the replicas are a stand-in (`tests/support/durable.py`) whose
acknowledgements a test sets; the real WAIT runs against a real replica in
tests/unit/test_durable_replica.py.
"""

from __future__ import annotations

import json

import pytest

from tests.support.durable import StubReplicas
from tests.support.engine import FAST, KEY_A, LABEL_A, account, build_engine, submits
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.jobs.durable import pause_reason
from worker.jobs.record import RecordState
from worker.jobs.replicas import Acks, Durability, waitaof_works
from worker.ops import liveness
from worker.ops.prometheus import RedisCollector
from worker.ops.view import OpsView


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=3, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    engine = build_engine(sim, capacity=3)
    engine.with_runtime(durability=StubReplicas(replicas=1, acked=0))
    return engine


def test_with_no_replica_acknowledging_nothing_is_sent_and_jobs_wait_first_in_line(
    eng: InlineEngine, sim: Simulator
) -> None:
    eng.with_runtime(durability=StubReplicas(replicas=1, acked=0, wait_ms=60_000))  # no refill
    jobs = [eng.imagine(f"an unreplicated lighthouse {i}") for i in range(5)]
    eng.run_until(lambda: False, 0.5)
    assert submits(sim) == 0  # nothing paid for while no replica has the intent
    records = [eng.rt.records.load(j) for j in jobs]
    assert all(r is not None and r.state == RecordState.WAITING for r in records)
    assert all(r is not None and r.submit_attempts == 0 for r in records)  # not counted
    state = eng.rt.guard.state(LABEL_A)
    assert state.cooldown_ms == 0 and not state.holders  # no cooldown, no slot kept
    assert sorted(state.waiters[:3]) == sorted(jobs[:3])  # the three handed a slot, first
    note = json.loads(eng.rt.redis.get(eng.rt.keys.submits_paused) or "{}")
    assert (note["acked"], note["wanted"]) == (0, 1)
    assert "submits paused: 0 of 1 replica acknowledged" in pause_reason(note)


def test_submits_go_on_once_a_replica_acknowledges_and_the_pause_note_goes(
    eng: InlineEngine, sim: Simulator
) -> None:
    stub = eng.rt.durability
    assert isinstance(stub, StubReplicas)
    jobs = [eng.imagine(f"a late-replicated lighthouse {i}") for i in range(5)]
    eng.run_until(lambda: stub.waits >= 3, 5)
    assert submits(sim) == 0
    stub.acked = 1
    assert eng.run_until(eng.all_done, 20)
    assert all(eng.result(j)["status"] == "SUCCESS" for j in jobs)
    assert submits(sim) == 5 and account(sim)["peak_in_progress"] <= 3
    assert eng.rt.redis.get(eng.rt.keys.submits_paused) is None
    assert all(r and r.submit_attempts == 1 for r in map(eng.rt.records.load, jobs))


def test_enough_acknowledgements_cost_one_wait_per_submit_and_the_delivery(
    eng: InlineEngine, sim: Simulator
) -> None:
    stub = eng.rt.durability
    assert isinstance(stub, StubReplicas)
    stub.acked = 1
    jobs = [eng.imagine(f"a replicated lighthouse {i}") for i in range(4)]
    assert eng.run_until(eng.all_done, 20)
    assert all(eng.result(j)["status"] == "SUCCESS" for j in jobs)
    assert stub.waits == 2 * len(jobs)  # the SUBMITTING compare-and-set, and `delivered`


def test_one_redis_without_replicas_waits_for_nothing() -> None:
    class NoServer:
        connection_pool = None

    durability = Durability(0, 100)
    durability._waitaof = False  # a 6.2 server, as asked once
    assert not durability.needed(NoServer())


@pytest.mark.parametrize(
    ("info", "works"),
    [
        ({"redis_version": "6.2.14", "aof_enabled": 1}, False),
        ({"redis_version": "7.0.15", "aof_enabled": 1}, False),
        ({"redis_version": "7.2.4", "aof_enabled": 0}, False),
        ({"redis_version": "7.2.4", "aof_enabled": 1}, True),
        ({"redis_version": "8.0.1", "aof_enabled": 1}, True),
        ({}, False),
    ],
)
def test_waitaof_is_used_only_on_redis_7_2_or_later_with_its_aof_on(
    info: dict[str, object], works: bool
) -> None:
    assert waitaof_works(info) is works


def test_acks_are_enough_only_when_as_many_as_wanted() -> None:
    assert Acks([], 1, 1).enough and not Acks([], 0, 1).enough and Acks([], 0, 0).enough


def test_paused_submits_make_health_degraded_with_the_reason_and_a_metric(
    eng: InlineEngine, sim: Simulator
) -> None:
    view = OpsView.on(eng.rt.settings, eng.rt.redis)
    assert liveness.verdict(liveness.read(view))[1] == []
    assert paused_metric(view) == 0
    eng.imagine("a lighthouse nobody replicates")
    eng.run_until(lambda: eng.rt.redis.exists(eng.rt.keys.submits_paused) == 1, 5)
    status, reasons = liveness.verdict(liveness.read(view))
    assert status == "degraded"
    assert any(r.startswith("submits paused: 0 of 1 replica acknowledged") for r in reasons)
    assert liveness.read(view).as_dict()["submits"]["paused"] is True
    assert paused_metric(view) == 1


def paused_metric(view: OpsView) -> float:
    families = RedisCollector(view).collect()
    return next(f.samples[0].value for f in families if f.name == "mj_submits_paused")
