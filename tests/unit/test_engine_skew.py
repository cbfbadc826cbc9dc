"""A lost submit is found in TTAPI's history whatever TTAPI's clock says (issue 23, hole 3).

TTAPI dates its history by its own clock; our send time is Redis's. The offset between the two
is learned from the `Date` of every submit TTAPI accepts, and a history row is a candidate from
our send moved by it (less a margin), or from minutes before it while nothing is learned: the
claims keep a wide window from giving one TTAPI job to two records.
"""

from __future__ import annotations

import pytest

from tests.support.engine import FAST, KEY_A, LABEL_A, build_engine, submits
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.jobs import skew
from worker.jobs.record import RecordState


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=200, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    return build_engine(sim, capacity=3)


def test_the_offset_of_ttapis_clock_is_learned_from_an_accepted_submit(
    eng: InlineEngine, sim: Simulator
) -> None:
    sim.set_faults(clock_offset_s=-10.0)
    eng.imagine("a first prompt")
    learned = skew.offset(eng.rt, LABEL_A)
    assert learned is not None and abs(learned + 10.0) <= 1.0


@pytest.mark.parametrize(("behind", "learned_first"), [(10.0, True), (30.0, False)])
def test_a_lost_submit_is_found_in_the_history_of_a_ttapi_whose_clock_is_behind(
    eng: InlineEngine, sim: Simulator, behind: float, learned_first: bool
) -> None:
    sim.set_faults(clock_offset_s=-behind)
    if learned_first:
        assert eng.run_until(eng.done(eng.imagine("a prompt that teaches the offset")), 10)
    sim.set_faults(rate_504_after_create=1.0, fault_paths=["imagine"])
    job = eng.imagine("a prompt whose answer is lost")
    assert eng.state(job) == RecordState.AMBIGUOUS
    sim.set_faults(rate_504_after_create=0.0)
    assert eng.run_until(eng.done(job), 10)
    assert eng.result(job)["status"] == "SUCCESS"
    assert submits(sim) == 1 + learned_first  # found, never sent again
