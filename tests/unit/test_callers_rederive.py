"""After a new Redis master, re-derived lines and slots keep their callers: a job queued again
stands in its own tenant's line of its class, and a job given its slot back counts against its
tenant's max_in_progress again (worker/engine/rederive.py, worker/jobs/maintenance.py)."""

from __future__ import annotations

import pytest

from tests.support.engine import KEY_A, LABEL_A, build_engine
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.engine.rederive import rederive
from worker.jobs.record import RecordState


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=2, fast_s=2.0)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    return build_engine(sim, capacity=2, fast_s=2.0, mj_tenants={"team": {"max_in_progress": 2}})


def busy(eng: InlineEngine, tenant: str) -> int:
    book = eng.rt.guard.book
    value = eng.rt.redis.hget(eng.rt.keys.pool[1], str(book.numbers[book.bucket(tenant)]))
    return int(value or 0)


def test_a_job_queued_again_stands_in_its_own_tenants_line_of_its_class(
    eng: InlineEngine,
) -> None:
    eng.rt.guard.set_cap(LABEL_A, 0)  # nobody is handed a slot: jobs stay in line
    low = eng.submit("imagine", {"prompt": "a normal one"}, tenant="team", priority="normal")
    high = eng.submit("imagine", {"prompt": "a high one"}, tenant="team", priority="high")
    eng.rt.guard.release(LABEL_A, high)  # its place in line was in the lost second
    assert rederive(eng.rt, LABEL_A)["queued again"] == 1
    assert eng.rt.guard.state(LABEL_A).waiters == [high, low]  # high first, as before
    loose = eng.rt.keys.guard_lines(LABEL_A)[0]
    assert eng.rt.redis.zscore(loose, high) is not None  # another account may still take it


def test_jobs_given_their_slots_back_count_against_their_tenant_again(
    eng: InlineEngine,
) -> None:
    jobs = [eng.submit("imagine", {"prompt": f"team {i}"}, tenant="team") for i in range(2)]

    def running() -> bool:
        recs = [eng.rt.records.load(j) for j in jobs]
        return all(r is not None and r.state == RecordState.SUBMITTED for r in recs)

    assert eng.run_until(running, 5)
    assert busy(eng, "team") == 2
    # the grants' whole script was in the lost second: slots, holders' lines, the count
    keys = eng.rt.keys
    eng.rt.redis.delete(keys.slots(LABEL_A), keys.guard_lines(LABEL_A)[2], keys.pool[1])
    assert rederive(eng.rt, LABEL_A)["slots restored"] == 2
    assert busy(eng, "team") == 2
    assert eng.run_until(eng.all_done, 20)
    assert busy(eng, "team") == 0
