"""Hand-off by the engine: the slot a job frees goes to the next waiter's submit at once.

The engine that ends a job (a poll, a callback's hint) submits the head waiter itself, as an
action of its own beside the others, so a hand-off costs neither a message nor a second run of
the waiter's task; the task runs again once, when the job ends, to report it.
"""

from __future__ import annotations

import time

import pytest

from tests.support.engine import FAST, KEY_A, LABEL_A, account, build_engine
from tests.support.inline import InlineEngine, Inputs, Killed
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.jobs.effects import Effect, Effects, Submit
from worker.jobs.outcome import Revoked


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=3, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    return build_engine(sim, capacity=3)


@pytest.mark.slow
def test_a_waiter_handed_a_slot_needs_no_second_run_of_its_task(
    eng: InlineEngine, sim: Simulator
) -> None:
    jobs = [eng.imagine(f"a lantern {i}") for i in range(8)]
    assert eng.run_until(eng.all_done, 15)
    assert all(eng.result(j)["status"] == "SUCCESS" for j in jobs)
    stats = account(sim)
    assert (stats["submits"], stats["peak_in_progress"], stats["count_499"]) == (8, 3, 0)
    # One re-publish per job, the one that reports its result; waiters get no wake-up message.
    assert [eng.count("resume", j) for j in jobs] == [1] * 8
    assert eng.holders(LABEL_A) == 0


def test_a_waiter_whose_expires_passed_is_revoked_when_handed_a_slot(
    eng: InlineEngine, sim: Simulator
) -> None:
    busy = [eng.imagine(f"a busy lantern {i}") for i in range(3)]
    late = "late-lantern"
    eng.inputs[late] = Inputs(
        "imagine", {"prompt": "a late lantern", "mode": "fast"}, expires_at=time.time() + 0.1
    )
    eng.deliver(late)  # parked: the account is full
    assert eng.run_until(eng.all_done, 15)
    assert isinstance(eng.outcomes[late], Revoked)
    assert account(sim)["submits"] == 3
    assert all(eng.result(j)["status"] == "SUCCESS" for j in busy)
    assert eng.holders(LABEL_A) == 0


@pytest.mark.slow
def test_an_engine_killed_while_handing_over_loses_no_job_and_pays_once(
    eng: InlineEngine, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import worker.engine.core as core

    jobs = [eng.imagine(f"a fragile lantern {i}") for i in range(4)]
    real = core.take_over
    kills: list[str] = []

    def dies_once(rt: object, label: str, job_id: str) -> Effects:
        if job_id == jobs[3] and not kills:
            kills.append(job_id)
            raise Killed  # the slot was handed over; nobody submitted the job
        return real(rt, label, job_id)  # type: ignore[arg-type]

    monkeypatch.setattr(core, "take_over", dies_once)
    assert eng.run_until(eng.all_done, 20)
    assert kills == [jobs[3]] and eng.killed
    assert all(eng.result(j)["status"] == "SUCCESS" for j in jobs)
    stats = account(sim)
    assert (stats["submits"], stats["peak_in_progress"]) == (4, 3)
    assert eng.holders(LABEL_A) == 0


@pytest.mark.slow
def test_a_job_that_ends_is_reported_before_its_slot_goes_to_the_next_submit(
    eng: InlineEngine,
) -> None:
    """The caller of an ended job need not wait for the submit its freed slot goes to."""
    busy = [eng.imagine(f"a first lantern {i}") for i in range(3)]
    waiter = eng.imagine("a waiting lantern")
    carry = eng.core.carry
    reported: list[set[str]] = []

    def watch(effect: Effect) -> None:
        if isinstance(effect, Submit) and effect.job_id == waiter:
            reported.append({s.arg for s in eng.dispatcher.pending("resume")} & set(busy))
        carry(effect)

    eng.core.carry = watch  # type: ignore[method-assign]
    assert eng.run_until(eng.all_done, 15)
    assert reported and reported[0]  # the ended job's report was out before the submit
    assert all(eng.result(j)["status"] == "SUCCESS" for j in [*busy, waiter])
