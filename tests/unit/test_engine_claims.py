"""Which TTAPI job is ours: a submit's own answer is proof; a look-alike in the history is not.

A job whose submit answer was lost searches TTAPI's history for a job with its prompt. Another
of our jobs with the same prompt may be there, its answer still on the way: the first record to
claim a TTAPI job keeps it, ever (look-alikes: each paid once), and the other looks for the
look-alike's job, or sends again; two records never deliver one TTAPI job.
Renewals made while reconciling never count as TTAPI accepting a probe.
"""

from __future__ import annotations

import heapq
import threading
import time

import pytest

from tests.support.engine import FAST, KEY_A, LABEL_A, account, build_engine
from tests.support.inline import InlineEngine, Inputs
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.engine.core import Action
from worker.jobs.record import RecordState


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=10, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    # A grace long enough for another submit's slow answer, well within a job's deadline
    # (TTAPI's timeout scaled as for 2 s jobs: 10 s).
    return build_engine(sim, capacity=10, fast_s=2.0, mj_reconcile_grace_s=3.0)


@pytest.mark.slow
@pytest.mark.parametrize("adopter_ends_first", [False, True])
def test_a_job_adopted_by_a_look_alike_stays_its_and_its_maker_never_shares_it(
    eng: InlineEngine, sim: Simulator, adopter_ends_first: bool
) -> None:
    prompt = "the same lighthouse"
    sim.set_faults(rate_truncated=1.0, fault_paths=["imagine"])  # J1's answer is lost...
    j1 = eng.imagine(prompt)  # ...and TTAPI never created it
    assert eng.state(j1) == RecordState.AMBIGUOUS
    sim.set_faults(rate_truncated=0.0, slow_s=3.0)  # J2's answer will take three seconds
    j2 = "j2"
    eng.inputs[j2] = Inputs("imagine", {"prompt": prompt, "mode": "fast"})
    eng.deliver(j2)  # queued; its submit is one of the engine's actions...
    assert eng.run_until(lambda: bool(eng.dispatcher.pending("submit", j2)), 2)
    eng.dispatcher.heap = [e for e in eng.dispatcher.heap if e[2].arg != j2]
    heapq.heapify(eng.dispatcher.heap)
    send = Action("submit", j2, label=LABEL_A)  # ...which another of its threads runs
    sending = threading.Thread(target=eng.core.perform, args=(send,))
    sending.start()
    assert _wait(lambda: len(sim.stats()["jobs"]) == 1, 5)  # TTAPI created J2's job
    sim.set_faults(slow_s=0.0)
    [j2_ttapi] = sim.stats()["jobs"]
    j1_rec = lambda: eng.rt.records.load(j1)  # noqa: E731
    assert eng.run_until(lambda: j1_rec().ttapi_job_id == j2_ttapi, 5)  # type: ignore[union-attr]
    if adopter_ends_first:  # J1 delivered J2's job before J2's answer came back
        assert eng.run_until(eng.done(j1), 5)
    sending.join(10)
    assert eng.run_until(eng.done(j1, j2), 15)
    # One TTAPI job, one record: J1 keeps what it adopted; J2 found nothing of J1's (its
    # submit made nothing) and sent once more.
    assert eng.result(j1)["job_id"] == j2_ttapi
    assert eng.result(j2)["job_id"] != j2_ttapi
    assert account(sim)["submits"] == 2


def _wait(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_looking_for_a_lost_probe_never_raises_the_effective_cap(
    eng: InlineEngine, sim: Simulator
) -> None:
    # Another client holds every place: our cap is 0 and the next submit is a probe.
    eng.rt.guard.occupied(LABEL_A, "someone", probe_every_s=0.0, lapse_s=60)
    eng.rt.guard.release(LABEL_A, "someone")  # (a job of ours the 499 put back in line)
    sim.set_faults(rate_truncated=1.0, fault_paths=["imagine"])  # the probe's answer is lost
    job = eng.imagine("a probing job")
    assert eng.state(job) == RecordState.AMBIGUOUS
    sim.set_faults(rate_truncated=0.0)
    looks = eng.count("poll", job)
    assert eng.run_until(lambda: eng.count("poll", job) >= looks + 2, 5)  # reconcile looked
    assert eng.state(job) == RecordState.AMBIGUOUS
    assert eng.rt.guard.state(LABEL_A).effective_cap == 0  # nothing says TTAPI took it
