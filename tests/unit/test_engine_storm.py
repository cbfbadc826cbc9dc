"""A lost submit has a deadline from the moment it is lost, and a storm of 5xx never ends a job
whose history TTAPI answers and shows empty before that deadline (issue 23, hole 5 and the
storm ending of its opening).

Every ambiguous submit is bounded by a deadline: set when it becomes AMBIGUOUS (whoever takes
it for lost: its own answer, or the scan that finds its submitter dead), kept across the
resubmits of that loss (they happen within it), fresh after a transient failure's resubmit.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.engine import FAST, KEY_A, LABEL_A, build_engine, submits
from tests.support.inline import InlineEngine, Inputs
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.jobs.holders import look_at_holder
from worker.jobs.record import RecordState
from worker.jobs.settle import settle
from worker.ttapi.responses import JobInfo


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=200, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    # A grace short beside the deadline (3 s), as in production (30 s beside 6 min).
    return build_engine(sim, capacity=3, mj_reconcile_grace_s=0.4)


def load(eng: InlineEngine, job: str) -> Any:
    rec = eng.rt.records.load(job)
    assert rec is not None
    return rec


def test_a_submit_whose_answer_was_lost_has_a_deadline_from_its_send(
    eng: InlineEngine, sim: Simulator
) -> None:
    sim.set_faults(rate_504_after_create=1.0, fault_paths=["imagine"])
    job = eng.imagine("a lost answer")
    rec = load(eng, job)
    assert rec.state == RecordState.AMBIGUOUS
    assert rec.deadline == eng.rt.timing.deadline(rec, rec.sent_at)


def test_a_submit_the_scan_takes_for_lost_gets_a_deadline_from_its_send(
    eng: InlineEngine,
) -> None:
    rt = eng.rt
    rt.records.create("dead", kind="imagine", params={"prompt": "x", "mode": "relax"}, poll_seq=0)
    assert rt.guard.acquire(LABEL_A, "dead").granted
    sent = rt.clock() - rt.timing.submit_limit_s - rt.timing.stall_s - 1
    assert rt.records.move(
        "dead", RecordState.NEW, RecordState.SUBMITTING, account=LABEL_A, sent_at=sent
    )
    what, effects = look_at_holder(rt, LABEL_A, "dead", load(eng, "dead"), 10**6, rt.clock())
    assert what == "revived" and effects
    rec = load(eng, "dead")
    assert rec.state == RecordState.AMBIGUOUS
    assert rec.deadline == rt.timing.deadline(rec, sent)  # a relax job's own timeout


def test_a_transient_resubmit_whose_answer_is_lost_is_not_given_up_at_its_first_429(
    eng: InlineEngine, sim: Simulator
) -> None:
    rt = eng.rt
    job = eng.imagine("a job that fails once")
    rec = load(eng, job)
    assert rec.state == RecordState.SUBMITTED
    # Its first TTAPI job ran to TTAPI's timeout: the deadline of that attempt has passed.
    assert rt.records.update(job, deadline=rt.clock() - 1)
    sim.set_faults(rate_504_after_create=1.0, fault_paths=["imagine"])
    failed = JobInfo.model_validate({"status": "FAILED", "jobId": rec.ttapi_job_id})
    failed.message = "Job Timeout"
    settled, effects = settle(rt, load(eng, job), failed)
    assert settled  # resubmitted once, its answer lost
    eng.carry(effects)
    assert eng.run_until(lambda: load(eng, job).state == RecordState.AMBIGUOUS, 5)
    sim.set_faults(rate_504_after_create=0.0, rate_429=1.0, fault_paths=["fetch-list"])
    looks = eng.count("poll", job)
    assert eng.run_until(lambda: eng.count("poll", job) >= looks + 2, 5)
    assert load(eng, job).state == RecordState.AMBIGUOUS  # throttled: it looks again
    sim.set_faults(rate_429=0.0)
    assert eng.run_until(eng.done(job), 10)
    assert eng.result(job)["status"] == "SUCCESS"
    assert submits(sim) == 2


def test_a_storm_of_500s_resubmits_past_two_tries_while_the_history_shows_nothing(
    eng: InlineEngine, sim: Simulator
) -> None:
    sim.set_faults(rate_500=1.0, fault_paths=["imagine"])  # 500, and nothing created
    job = eng.imagine("a prompt in a storm")
    assert eng.run_until(lambda: load(eng, job).ambiguous_resubmits >= 2, 10)
    assert eng.run_until(lambda: load(eng, job).state == RecordState.AMBIGUOUS, 5)
    sim.set_faults(rate_500=0.0)  # the storm passes before the job's deadline
    assert eng.run_until(eng.done(job), 10)
    assert eng.result(job)["status"] == "SUCCESS"
    assert submits(sim) == 1


@pytest.mark.slow
def test_a_storm_that_never_ends_fails_the_job_clearly_only_after_its_deadline(
    eng: InlineEngine, sim: Simulator
) -> None:
    sim.set_faults(rate_500=1.0, fault_paths=["imagine"])
    job = eng.imagine("a prompt in an endless storm")
    assert eng.run_until(eng.done(job), 20)
    rec = load(eng, job)
    assert "Submit answer lost" in eng.error(job)
    assert "by its deadline" in eng.error(job)
    assert rec.finished_at_ts >= rec.deadline > 0
    assert rec.ambiguous_resubmits >= 2
    assert submits(sim) == 0
    assert eng.holders(LABEL_A) == 0


def test_a_lost_submit_found_only_after_its_deadline_is_still_resubmitted_when_never_created(
    eng: InlineEngine, sim: Simulator
) -> None:
    # Its node died before the POST went out (nothing was created), and the scan that took it
    # for lost came late, past the send's deadline: the history, readable and empty, proves
    # it was never created, so it is sent, not failed (the e2e node kill found this).
    rt = eng.rt
    rt.records.create(
        "late", kind="imagine", params={"prompt": "never sent", "mode": "fast"}, poll_seq=0
    )
    assert rt.guard.acquire(LABEL_A, "late").granted
    sent = rt.clock() - rt.timing.deadline_grace_s - 3600  # long past any deadline of it
    assert rt.records.move(
        "late", RecordState.NEW, RecordState.SUBMITTING, account=LABEL_A, sent_at=sent
    )
    eng.inputs["late"] = Inputs("imagine", {"prompt": "never sent", "mode": "fast"})
    what, effects = look_at_holder(rt, LABEL_A, "late", load(eng, "late"), 10**6, rt.clock())
    assert what == "revived"
    eng.carry(effects)
    assert load(eng, "late").state == RecordState.AMBIGUOUS
    assert eng.run_until(eng.done("late"), 10)
    assert eng.result("late")["status"] == "SUCCESS"
    assert submits(sim) == 1
