"""A job's polls read no record while nothing else moved it: the record a submit or a poll
leaves travels with the next `PollAt` and the engine keeps it for that poll. A poll that sees
new progress makes no compare-and-set: the progress rides with the state that shows it."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.support.engine import KEY_A, build_engine
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.engine.actions import ActionKind
from worker.engine.core import EngineCore
from worker.jobs.record import RecordState
from worker.jobs.records import RecordStore


@pytest.fixture
def eng(make_sim: SimFactory) -> InlineEngine:
    return build_engine(make_sim(keys=[KEY_A], capacity=10, fast_s=0.6), capacity=3, fast_s=0.6)


def test_a_job_s_polls_read_no_record(eng: InlineEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    reads, polls, real_load = Counter[str](), Counter[str](), RecordStore.load
    real_poll = EngineCore.PERFORMS[ActionKind.POLL]
    polling = False

    def poll(core: EngineCore, action: Any) -> Any:
        nonlocal polling
        polling = True
        polls[action.arg] += 1
        try:
            return real_poll(core, action)
        finally:
            polling = False

    def load(store: RecordStore, job_id: str) -> Any:
        if polling:
            reads[job_id] += 1
        return real_load(store, job_id)

    monkeypatch.setitem(EngineCore.PERFORMS, ActionKind.POLL, poll)
    monkeypatch.setattr(RecordStore, "load", load)
    job = eng.imagine("a cat that is polled")
    assert eng.run_until(lambda: eng.state(job) == RecordState.SUCCESS, 10)
    assert polls[job] >= 2  # its first poll and the one that saw it end, at least
    assert reads[job] == 0


def test_progress_rides_with_its_state_and_the_poll_step_stays(
    eng: InlineEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    moves, real_cas = [], RecordStore.cas

    def cas(store: RecordStore, job_id: str, expect: Any, **changes: Any) -> bool:
        moves.append(changes)
        return real_cas(store, job_id, expect, **changes)

    monkeypatch.setattr(RecordStore, "cas", cas)
    job = eng.imagine("a cat whose progress shows")
    seen: list[int] = []

    def progressed() -> bool:
        rec = eng.rt.records.load(job)
        if rec is not None and rec.state == RecordState.SUBMITTED and rec.progress:
            seen.append(rec.progress)
            assert rec.poll_seq == 1  # the submit's step: progress moved it not
        return rec is not None and rec.state == RecordState.SUCCESS

    assert eng.run_until(progressed, 10)
    assert seen, "the record never showed the job's progress (the API's and the page's view)"
    shown = {m["progress"] for state, m in eng.dispatcher.states[job] if state == "SUBMITTED"}
    assert set(seen) <= shown  # what the record said, its caller saw
    # No compare-and-set carried progress, but the ending's (which also moves the step).
    assert [c["state"] for c in moves if "progress" in c] == [RecordState.SUCCESS]
