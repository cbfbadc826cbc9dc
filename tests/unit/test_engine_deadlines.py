"""Every open job ends by its deadline, and a job TTAPI may still run keeps its place.

A job that outlives TTAPI's own timeout (plus grace) ends for its caller with a clear error,
whether TTAPI still says it runs or cannot be asked at all; its slot then becomes occupancy
(one place fewer under the effective cap, given back by a probe TTAPI accepts), never a free
slot that would let an eleventh job in.
"""

from __future__ import annotations

import pytest

from tests.support.engine import KEY_A, LABEL_A, account, build_engine
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator

FAST = 0.2  # TTAPI's 300 s timeout lasts 1 s


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=3, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    return build_engine(sim, capacity=3, fast_s=FAST, mj_poll_max_s=0.1)


@pytest.mark.slow
def test_a_job_ttapi_still_runs_past_its_deadline_fails_and_keeps_its_place(
    eng: InlineEngine, sim: Simulator
) -> None:
    job = eng.imagine("this one is stuck")
    assert eng.run_until(eng.done(job), 10)
    assert eng.error(job).startswith("Job Timeout")
    state = eng.rt.guard.state(LABEL_A)
    assert (state.holders, state.effective_cap) == ({}, 2)  # TTAPI still runs it: 2 of 3 left
    assert account(sim)["in_progress"] == 1


@pytest.mark.slow
def test_a_job_whose_fetches_all_fail_still_ends_by_its_deadline(
    eng: InlineEngine, sim: Simulator
) -> None:
    job = eng.imagine("a mute job")
    sim.set_faults(fail_paths=["fetch"])  # TTAPI answers 500 to every fetch, for ever
    assert eng.run_until(eng.done(job), 10)
    assert eng.error(job).startswith("Job Timeout")
    assert "could not be asked" in eng.error(job)
    assert eng.rt.guard.state(LABEL_A).effective_cap == 2


@pytest.mark.slow
def test_the_place_of_a_job_that_outran_its_deadline_comes_back_through_a_probe(
    eng: InlineEngine, sim: Simulator
) -> None:
    stuck = eng.imagine("this one is stuck")
    assert eng.run_until(eng.done(stuck), 10)
    sim.finish_stuck()  # TTAPI ends it after all: its place is free again
    jobs = [eng.imagine(f"a later job {i}") for i in range(6)]
    assert eng.run_until(eng.done(*jobs), 10)
    assert all(eng.result(j)["status"] == "SUCCESS" for j in jobs)
    stats = account(sim)
    assert stats["peak_in_progress"] == 3 and stats["count_499"] == 0
    assert eng.rt.guard.state(LABEL_A).effective_cap in (None, 3)  # a probe gave it back
