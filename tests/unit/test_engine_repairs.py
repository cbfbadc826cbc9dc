"""Repairs that must not depend on the one path that broke: a job in flight found by its record
when its slot and its timers are gone, a submit handed on to the engine that holds the account,
and the old version's poll ticks handed on whole."""

from __future__ import annotations

import heapq
from typing import Any

import pytest

from tests.support.engine import FAST, KEY_A, KEY_B, LABEL_A, LABEL_B, build_engine, submits
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.engine import upgrade
from worker.jobs import hints
from worker.jobs.effects import Submit
from worker.jobs.record import RecordState


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A, KEY_B], capacity=10, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    return build_engine(sim, KEY_A, KEY_B, capacity=3)


def test_a_job_in_flight_that_lost_its_slot_and_its_timers_is_found_by_its_record(
    eng: InlineEngine, sim: Simulator
) -> None:
    job = eng.submit("imagine", {"prompt": "nobody polls it", "mode": "fast"}, account=LABEL_A)
    assert eng.state(job) == RecordState.SUBMITTED
    # Its slot lease lapsed (the engine's pool was starved) and a fill dropped it; then the
    # engine restarted, and its timers went with it.
    rt = eng.rt
    rt.redis.zrem(rt.keys.slots(LABEL_A), job)
    heap = eng.dispatcher.heap
    heap[:] = [entry for entry in heap if entry[2].kind == "resume"]
    heapq.heapify(heap)
    rt.records.update(job, next_poll_at=rt.clock() - 60)  # its poll is a minute overdue
    rt.records.look_again([job], 0.0)  # the sweep's turn for it has come
    eng.pump()
    assert eng.holders(LABEL_A) == 1  # counted against the cap again: TTAPI runs it
    assert eng.run_until(eng.done(job), 10)
    assert eng.result(job)["status"] == "SUCCESS" and submits(sim) == 1
    assert eng.holders(LABEL_A) == 0


def test_a_job_handed_a_slot_on_an_account_another_engine_holds_is_submitted_there(
    eng: InlineEngine,
) -> None:
    rt = eng.rt
    eng.core.drop(LABEL_B)  # another node's engine holds B now
    eng.core.carry(Submit(LABEL_B, "job-b"))  # e.g. a slot B's release handed on, here
    assert not eng.dispatcher.pending("submit")  # not submitted here, but by B's engine
    assert rt.redis.lrange(rt.keys.wake(LABEL_B), 0, -1) == hints.submit_hints(["job-b"])


def test_the_old_versions_poll_ticks_are_handed_on_whole_even_while_one_is_written(
    eng: InlineEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, polls = eng.rt, eng.rt.keys.polls(LABEL_A)
    rt.redis.zadd(polls, {"job-1|3": 1000})
    send, open_pipe, written = rt.redis.execute_command, rt.redis.pipeline, []

    def an_old_node_writes() -> None:  # its poll lands right after the set was read
        if not written:
            written.append(send("ZADD", polls, 2000, "job-2|5"))

    def execute_command(*args: Any, **options: Any) -> Any:
        answer = send(*args, **options)
        if args[0] == "ZRANGE" and args[1] == polls:
            an_old_node_writes()
        return answer

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = open_pipe(*args, **kwargs)
        run = pipe.execute

        def execute(*a: Any, **k: Any) -> Any:
            reads = any(c[0][:2] == ("ZRANGE", polls) for c in pipe.command_stack)
            answer = run(*a, **k)
            if reads:
                an_old_node_writes()
            return answer

        pipe.execute = execute
        return pipe

    monkeypatch.setattr(rt.redis, "execute_command", execute_command)
    monkeypatch.setattr(rt.redis, "pipeline", pipeline)
    upgrade.tick(rt, LABEL_A)
    assert written  # the old node's poll was written during the tick
    left = {str(m).split("|")[0] for m in rt.redis.zrange(polls, 0, -1)}
    wake = [hints.parse(h) for h in rt.redis.lrange(rt.keys.wake(LABEL_A), 0, -1)]
    handed = {h.job_id for h in wake if h is not None and h.kind == hints.HintKind.POLL}
    assert "job-1" in handed and "job-2" in handed | left  # handed on, or left for the next
