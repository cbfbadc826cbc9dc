"""A job's report is delivered once even when it is slow: its claim is kept alive while it runs,
and a run that lost its claim returns nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from tests.support.engine import KEY_A, build_engine
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.capacity.leases import Lease
from worker.devtools.simulator import Simulator
from worker.jobs import entry
from worker.jobs.outcome import Done, Outcome, Park
from worker.jobs.record import RecordState

CLAIM_S = 0.3  # the claim's life (stall_s): short, so a slow report outlives it


@pytest.fixture
def eng(make_sim: SimFactory) -> InlineEngine:
    sim: Simulator = make_sim(keys=[KEY_A], capacity=10, fast_s=0.2)
    eng = build_engine(sim, capacity=3, fast_s=0.2)
    eng.with_runtime(timing=replace(eng.rt.timing, stall_s=CLAIM_S))
    return eng


def ended_job(eng: InlineEngine) -> Callable[[], Outcome]:
    """A job that ended and whose report has not run yet; a function that runs its report."""
    eng.dispatcher.drop = lambda step: step.kind == "resume"
    job = eng.imagine("a report that takes its time")
    assert eng.run_until(lambda: eng.state(job) == RecordState.SUCCESS, 10)
    inp = eng.inputs[job]
    return lambda: entry.run(eng.rt, job, inp.kind, inp.params, signature={})[0]


def test_a_report_slower_than_its_claim_is_delivered_once(
    eng: InlineEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    report, real, gate = ended_job(eng), entry.ended, threading.Event()

    def slow(rec: Any) -> Outcome:  # the first run's own work outlasts its claim
        if threading.current_thread() is not threading.main_thread():
            gate.wait(5)
        return real(rec)

    monkeypatch.setattr(entry, "ended", slow)
    outcomes: list[Outcome] = []
    first = threading.Thread(target=lambda: outcomes.append(report()))
    first.start()
    time.sleep(2 * CLAIM_S)  # the claim's own life passes while the first run works
    outcomes.append(report())  # the pump re-published the owed job: a second run
    gate.set()
    first.join(5)
    assert [type(o) for o in outcomes].count(Done) == 1
    assert sum(isinstance(o, Park) for o in outcomes) == 1


def test_a_report_that_lost_its_claim_meanwhile_returns_nothing(
    eng: InlineEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    report, real = ended_job(eng), entry.ended

    def stalled(rec: Any) -> Outcome:  # stopped past its claim: another run took it over
        time.sleep(CLAIM_S)  # past the share of its life a claim is taken for granted
        key = eng.rt.keys.delivery(rec.job_id)
        eng.rt.redis.set(key, "another run's token", px=60_000)
        return real(rec)

    monkeypatch.setattr(entry, "ended", stalled)
    assert isinstance(report(), Park)  # the other run delivers it; this one must not


def test_a_report_moments_after_its_claim_asks_redis_nothing_more(
    eng: InlineEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim taken a tenth of its life ago or less is surely still the run's: the fence
    before it returns costs no round trip (a report in the engine takes milliseconds)."""
    eng.with_runtime(timing=replace(eng.rt.timing, stall_s=60.0))
    report, real, renewals = ended_job(eng), Lease.renew, []

    def renew(lease: Lease, token: str, ttl_s: float) -> bool:
        renewals.append(lease.key)
        return real(lease, token, ttl_s)

    monkeypatch.setattr(Lease, "renew", renew)
    assert isinstance(report(), Done)
    assert renewals == []
