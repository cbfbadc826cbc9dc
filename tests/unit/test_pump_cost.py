"""The pump's cost per round: a few round trips for every account, one read per holder, no
write for a healthy one, and one round at a time."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.engine import FAST, KEY_A, KEY_B, LABEL_A, LABEL_B, build_engine
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.jobs.record import RecordState


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A, KEY_B], capacity=2, fast_s=FAST * 20)  # jobs run 10 s


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    return build_engine(sim, KEY_A, KEY_B, capacity=2, fast_s=FAST * 20)


def test_a_round_reads_only_a_few_fields_and_renews_no_fresh_lease(
    eng: InlineEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = [eng.imagine(f"a quiet harbour {i}") for i in range(5)]
    assert sorted(eng.state(j) for j in jobs) == [RecordState.SUBMITTED] * 4 + [RecordState.WAITING]
    calls: list[str] = []

    def forbidden(name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            raise AssertionError(f"the pump called {name} for a healthy job")

        return record

    monkeypatch.setattr(eng.rt.records, "load", forbidden("records.load"))
    monkeypatch.setattr(eng.rt.guard, "renew", forbidden("guard.renew"))
    assert eng.pump() == {
        "woken": 0,
        "revived": 0,
        "reaped": 0,
        "redelivered": 0,
        "orphaned": 0,
    }
    assert calls == []
    assert len(eng.rt.guard.state(LABEL_A).holders) + len(eng.rt.guard.state(LABEL_B).holders) == 4


@pytest.mark.parametrize("by", ["the engine's scan", "the pump, when no engine holds it"])
def test_a_lease_half_spent_is_renewed(eng: InlineEngine, by: str) -> None:
    job = eng.imagine("a tired lighthouse")
    label = eng.rt.records.load(job).account  # type: ignore[union-attr]
    eng.rt.guard.hold(label, job, eng.rt.timing.lease_s / 4)  # a quarter of the lease left
    if "pump" in by:
        eng.rt.redis.delete(eng.rt.keys.owner(label))
        eng.pump()
    else:
        eng.core.scan(label)
    assert eng.rt.guard.state(label).holders[job] > 0.9 * eng.rt.timing.lease_s * 1000


def test_a_round_started_while_another_runs_does_nothing(eng: InlineEngine) -> None:
    job = eng.imagine("a forgotten buoy")
    label = eng.rt.records.load(job).account  # type: ignore[union-attr]
    eng.rt.guard.release(label, job)  # as if its slot were lost: the pump must reap nothing
    eng.rt.guard.acquire(label, "ghost-job")  # a holder without a record
    eng.rt.redis.delete(eng.rt.keys.owner(label))  # no engine holds it: the pump looks after it
    eng.rt.redis.set(eng.rt.keys.pump_turn, "1")
    assert eng.pump()["reaped"] == 0
    assert "ghost-job" in eng.rt.guard.state(label).holders
    eng.rt.redis.delete(eng.rt.keys.pump_turn)
    assert eng.pump()["reaped"] == 1
    assert "ghost-job" not in eng.rt.guard.state(label).holders
    assert not eng.rt.redis.exists(eng.rt.keys.pump_turn)  # a round gives its turn back
