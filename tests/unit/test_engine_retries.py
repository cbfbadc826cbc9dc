"""Retries of every kind stay inside the engine: a resubmit after TTAPI's transient failure, a
connection never made, a key TTAPI refused, or an unexpected error in the submit step is
scheduled on the engine's own timers, never a Celery message and a second run of the job's
task. The record stays the source of truth: a job waiting for its retry is WAITING with its
slot, which the next engine's scan submits if this one dies.

Each job's task is re-published once: to report its end.
"""

from __future__ import annotations

from typing import Any

import pytest

from config.settings import account_label
from tests.support.engine import FAST, KEY_A, LABEL_A, account, build_engine
from tests.support.inline import InlineEngine, Inputs
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.jobs import submit as submit_step
from worker.jobs.record import RecordState
from worker.policy import MAX_STEP_ERRORS
from worker.ttapi import errors

KEY_BAD = "sk-engine-retry-unknown-0009"  # the simulator answers 401 to it


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=4, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    return build_engine(sim, capacity=4)


def reported_once(eng: InlineEngine, job: str) -> bool:
    """The job's task ran twice in all: its entry, and the report of its end."""
    return eng.count("resume", job) == 1


def test_a_transient_failure_is_resubmitted_by_the_engine_not_through_celery(
    eng: InlineEngine, sim: Simulator
) -> None:
    job = eng.imagine("a flaky tower")  # TTAPI fails it once with a transient message
    assert eng.run_until(eng.done(job), 8)
    assert eng.result(job)["status"] == "SUCCESS"
    assert account(sim)["submits"] == 2
    assert eng.count("submit", job) == 2 and reported_once(eng, job)
    assert eng.holders(LABEL_A) == 0


def test_a_connection_never_made_is_retried_on_the_engines_timers_after_a_backoff(
    eng: InlineEngine, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = eng.rt.pool.client(LABEL_A)
    real, refused = client.submit, []

    def unreachable_once(request: Any, **kwargs: Any) -> Any:
        if not refused:
            refused.append(request)
            raise errors.ConnectError("connection refused")
        return real(request, **kwargs)

    monkeypatch.setattr(client, "submit", unreachable_once)
    job = eng.imagine("a lighthouse behind a firewall")
    rec = eng.rt.records.load(job)
    assert rec is not None and rec.state == RecordState.WAITING  # its retry waits, slot kept
    assert eng.holders(LABEL_A) == 1
    assert len(eng.dispatcher.pending("submit", job)) == 1  # the engine's timer, no message
    assert not eng.dispatcher.pending("resume", job)
    assert eng.run_until(eng.done(job), 8)
    assert eng.result(job)["status"] == "SUCCESS"
    assert account(sim)["submits"] == 1 and reported_once(eng, job)


def test_a_key_ttapi_refuses_moves_the_job_to_another_account_inside_the_engine(
    make_sim: SimFactory,
) -> None:
    sim = make_sim(keys=[KEY_A], capacity=4, fast_s=FAST)
    eng = build_engine(sim, KEY_BAD, KEY_A, capacity=4)
    eng.rt.pool.disable(LABEL_A, 402, "not yet")  # the job lands on the refused key first
    job = "on-a-revoked-key"
    eng.inputs[job] = Inputs("imagine", {"prompt": "a lighthouse on a revoked key"})
    eng.deliver(job)
    eng.rt.pool.enable(LABEL_A)
    assert eng.run_until(eng.done(job), 8)
    assert eng.result(job)["account"] == LABEL_A
    assert (eng.rt.pool.disabled_reason(account_label(KEY_BAD)) or "").startswith("401")
    assert reported_once(eng, job)


def test_an_error_in_the_engines_submit_step_is_tried_again_on_its_timers(
    eng: InlineEngine, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    real, broke = submit_step.account_for, []

    def breaks_once(rt: Any, rec: Any) -> Any:
        if not broke:
            broke.append(rec.job_id)
            raise ValueError("a bug, once")
        return real(rt, rec)

    monkeypatch.setattr(submit_step, "account_for", breaks_once)
    job = eng.imagine("a lighthouse with a glitch")
    assert eng.run_until(eng.done(job), 8)
    assert eng.result(job)["status"] == "SUCCESS"
    assert account(sim)["submits"] == 1 and reported_once(eng, job)
    rec = eng.rt.records.load(job)
    assert rec is not None and rec.step_errors == 1


def test_a_submit_step_that_keeps_failing_ends_the_job_clearly_unsent(
    eng: InlineEngine, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(rt: Any, rec: Any) -> Any:
        raise ValueError("a bug, every time")

    monkeypatch.setattr(submit_step, "account_for", broken)
    job = eng.imagine("a lighthouse that never leaves")
    assert eng.run_until(eng.done(job), 20)  # backing off 0.2, 0.4, 0.8, 1.6 s
    assert "internal error in mj-worker" in eng.error(job)
    assert "a bug, every time" in eng.error(job)
    assert eng.count("submit", job) == MAX_STEP_ERRORS
    assert account(sim)["submits"] == 0 and reported_once(eng, job)
    assert eng.holders(LABEL_A) == 0
