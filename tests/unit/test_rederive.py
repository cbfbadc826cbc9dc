"""After a new Redis master (a failover, a restart: a new run_id), slots and lines are
re-derived from the records and TTAPI's answers, not trusted (worker/engine/rederive.py).

A lost write is played by deleting what the new master would not have: fakeredis stands in
for the master that forgot its last second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.engine import KEY_A, LABEL_A, account, build_engine, submits
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.clock import RedisClock
from worker.devtools.simulator import Simulator
from worker.engine.rederive import Epoch, Follower, rederive
from worker.jobs.record import RecordState

CAP = 2


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=CAP, fast_s=2.0)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    # A submit's longest HTTP life: 1.5 s (connect 0.5 + read 1), well inside a job's timeout.
    timeouts = {"mj_http_connect_timeout_s": 0.5, "mj_http_read_timeout_s": 1.0}
    return build_engine(sim, capacity=CAP, fast_s=2.0, **timeouts)


class Master:
    """INFO server of whichever master is in place: `run_id` changes on a failover."""

    def __init__(self) -> None:
        self.run_id = "a" * 40

    def info(self, section: str) -> dict[str, Any]:
        return {"run_id": self.run_id}


def follower(eng: InlineEngine, master: Master) -> Follower:
    def run_now(fn: Callable[..., object], *args: Any) -> None:
        fn(*args)

    found = Follower(eng.rt, eng.core, run_now)
    found.epoch = Epoch(master)  # type: ignore[arg-type]
    return found


def running(eng: InlineEngine, *jobs: str) -> Callable[[], bool]:
    def check() -> bool:
        recs = [eng.rt.records.load(j) for j in jobs]
        return all(r is not None and r.state == RecordState.SUBMITTED for r in recs)

    return check


@pytest.mark.slow
def test_jobs_ttapi_runs_get_back_the_slots_a_failover_forgot_and_the_cap_holds(
    eng: InlineEngine, sim: Simulator
) -> None:
    master = Master()
    watch = follower(eng, master)
    watch.check()  # the first master: nothing to re-derive
    first = [eng.imagine(f"a failed-over lighthouse {i}") for i in range(CAP)]
    assert eng.run_until(running(eng, *first), 5)
    eng.rt.redis.delete(eng.rt.keys.slots(LABEL_A))  # the grants were in the lost second
    master.run_id = "b" * 40  # a replica promoted
    watch.check()
    assert eng.holders(LABEL_A) == CAP
    more = [eng.imagine(f"a later lighthouse {i}") for i in range(CAP)]
    assert eng.run_until(eng.all_done, 20)
    assert all(eng.result(j)["status"] == "SUCCESS" for j in first + more)
    assert account(sim)["count_499"] == 0 and account(sim)["peak_in_progress"] <= CAP
    assert submits(sim) == 2 * CAP


@pytest.mark.slow
def test_a_submit_whose_answer_was_forgotten_is_reconciled_at_once_and_paid_once(
    eng: InlineEngine, sim: Simulator
) -> None:
    job = eng.imagine("a lighthouse whose SUBMITTED write was lost")
    assert eng.run_until(running(eng, job), 5)
    rec = eng.rt.records.load(job)
    assert rec is not None
    # The new master has the intent (it was waited for) but not the answer: SUBMITTING, sent
    # longer ago than any HTTP call lasts, its polls gone with the old engine's timers.
    eng.dispatcher.drop = lambda step: step.kind == "poll" and step.seq <= rec.poll_seq
    eng.rt.records.update(job, state=RecordState.SUBMITTING, sent_at=rec.sent_at - 2)
    eng.rt.redis.delete(eng.rt.keys.claim(rec.ttapi_job_id))
    done = rederive(eng.rt, LABEL_A)
    assert done["submits reconciled"] == 1
    fresh = eng.rt.records.load(job)
    assert fresh is not None and fresh.state == RecordState.AMBIGUOUS
    eng.dispatcher.drop = lambda step: False
    eng.core.scan(LABEL_A, takeover=True)  # what the follower schedules next
    assert eng.run_until(eng.all_done, 20)
    assert eng.result(job)["job_id"] == rec.ttapi_job_id
    assert submits(sim) == 1


def test_a_job_whose_place_in_line_was_forgotten_is_queued_again(eng: InlineEngine) -> None:
    eng.rt.guard.set_cap(LABEL_A, 0)  # nobody is handed a slot: jobs stay in line
    jobs = [eng.imagine(f"a queued lighthouse {i}") for i in range(3)]
    assert eng.rt.guard.state(LABEL_A).waiters == jobs
    eng.rt.redis.zrem(eng.rt.keys.waiters(LABEL_A), jobs[1])
    assert rederive(eng.rt, LABEL_A)["queued again"] == 1
    assert sorted(eng.rt.guard.state(LABEL_A).waiters) == sorted(jobs)
    assert rederive(eng.rt, LABEL_A)["queued again"] == 0


def test_a_new_master_is_noticed_once_and_the_clock_asks_it_for_the_time(
    eng: InlineEngine,
) -> None:
    master = Master()
    watch = follower(eng, master)
    watch.check()
    assert not watch.epoch.changed()
    clock = eng.rt.clock
    assert isinstance(clock, RedisClock)
    clock()
    asked: list[int] = []
    real_time = clock._redis.time
    clock._redis.time = lambda: asked.append(1) or real_time()  # type: ignore[method-assign]
    master.run_id = "c" * 40
    watch.check()
    clock()
    assert asked == [1]  # resynced at once, not after REDIS_CLOCK_RESYNC_S
    scheduled = [s for s in eng.dispatcher.pending("takeover") if s.arg == LABEL_A]
    assert scheduled  # and the account is scanned as on a takeover
