"""Every job ends exactly once: one stored outcome each, whatever is duplicated or overlapped.

Backlogs that end all at once (hundreds of expired waiters, an account out of rotation with
hundreds parked on it), two runs of one job racing, an error inside a run, and reports
published twice must each leave every caller with exactly one outcome, no job paid twice and
no slot held by a job that ended.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from tests.support.engine import KEY_A, KEY_B, LABEL_A, LABEL_B, account, build_engine
from tests.support.inline import InlineEngine, Killed
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.jobs import entry, maintenance
from worker.jobs import submit as submit_step
from worker.jobs.outcome import Done, Park, Revoked
from worker.jobs.record import RecordState
from worker.jobs.revoke import cancel_parked

FAST = 0.2


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A, KEY_B], capacity=200, fast_s=FAST)


def engine(
    sim: Simulator, *keys: str, capacity: int = 1, fast_s: float = FAST, **overrides: Any
) -> InlineEngine:
    """An engine on `keys` (account A alone by default); `fast_s` scales its deadlines."""
    return build_engine(sim, *(keys or (KEY_A,)), capacity=capacity, fast_s=fast_s, **overrides)


def stored_once(eng: InlineEngine, jobs: list[str]) -> Counter[str]:
    """How the jobs ended, after checking that each stored exactly one outcome."""
    counts = {j: len(eng.stored.get(j, [])) for j in jobs}
    assert set(counts.values()) == {1}, Counter(counts.values())
    return Counter(type(eng.stored[j][0]).__name__ for j in jobs)


@pytest.mark.slow
def test_five_hundred_waiters_whose_expires_passed_all_end_revoked_once(
    sim: Simulator,
) -> None:
    eng = engine(sim, fast_s=3.0)  # deadlines far beyond the test: stuck is stuck
    first = eng.imagine("the one that is stuck")  # A's one slot is taken; the rest wait
    soon = time.time() + 4.0
    late = [eng.submit("imagine", {"prompt": f"late {i}"}, expires_at=soon) for i in range(500)]
    assert all(eng.state(j) == RecordState.WAITING for j in late)
    time.sleep(max(0.0, soon - time.time()) + 0.05)
    sim.finish_stuck()  # the running job ends: its slot goes to 500 expired waiters in turn
    assert eng.run_until(eng.done(first, *late), 60)
    assert stored_once(eng, late) == {"Revoked": 500}
    assert account(sim)["submits"] == 1
    fresh = [eng.imagine(f"fresh {i}") for i in range(10)]
    assert eng.run_until(eng.done(*fresh), 30)
    assert stored_once(eng, fresh) == {"Done": 10}


@pytest.mark.slow
def test_five_hundred_waiters_on_an_account_that_gets_402_all_end_on_the_other_once(
    sim: Simulator,
) -> None:
    eng = engine(sim, KEY_A, KEY_B, capacity=10, fast_s=3.0)
    eng.rt.pool.disable(LABEL_B, 401, "not yet")  # every job lands on A first
    jobs = [eng.imagine(f"a stuck fox {i}") for i in range(10)]
    jobs += [eng.imagine(f"a parked fox {i}") for i in range(500)]
    assert len(eng.rt.guard.state(LABEL_A).waiters) == 500
    sim.set_account(KEY_A, balance=0)  # A's balance runs out: its next submit gets 402
    eng.rt.pool.enable(LABEL_B)
    eng.rt.guard.set_cap(LABEL_B, 100)
    sim.finish_stuck()
    assert eng.run_until(eng.all_done, 120)
    assert stored_once(eng, jobs) == {"Done": 510}
    created = Counter(j["prompt"] for j in sim.stats()["jobs"].values())
    assert len(created) == 510 and max(created.values()) == 1  # none paid twice
    assert account(sim, LABEL_B)["submits"] >= 500
    assert eng.holders(LABEL_A) == eng.holders(LABEL_B) == 0


@pytest.mark.slow
def test_a_kill_inside_a_cancel_still_delivers_the_revoke(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import worker.jobs.revoke as revoke

    eng = engine(sim)
    first = eng.imagine("the one that runs")
    late = eng.submit("imagine", {"prompt": "late"}, expires_at=time.time() + 0.2)
    real = revoke.hand_on

    def die_once(*args: Any, **kw: Any) -> None:
        monkeypatch.setattr(revoke, "hand_on", real)
        raise Killed  # after the record says REVOKED, before its slot is passed on

    monkeypatch.setattr(revoke, "hand_on", die_once)
    time.sleep(0.25)
    assert eng.run_until(lambda: bool(eng.killed), 10)
    assert eng.state(late) == RecordState.REVOKED
    eng.pump_every = 0.1
    assert eng.run_until(eng.done(first, late), 10)
    assert stored_once(eng, [first, late]) == {"Done": 1, "Revoked": 1}


def test_two_runs_of_one_job_that_pick_different_accounts_agree_on_one(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = engine(sim, KEY_A, KEY_B, capacity=3)
    picks = iter([LABEL_A, LABEL_B])
    job = "one-job-two-runs"

    def choose(kind: str = "imagine") -> str:
        mine = next(picks)
        if mine == LABEL_A:  # P1 picked A; P2, a duplicate of the message, runs meanwhile
            eng.deliver(job)
        return mine

    monkeypatch.setattr(eng.rt.pool, "choose", choose)
    eng.submit("imagine", {"prompt": "a contested lighthouse"}, job_id=job)
    assert eng.run_until(eng.done(job), 10)
    [made] = sim.stats()["jobs"].values()
    assert eng.result(job)["account"] == made["label"] == LABEL_B
    assert stored_once(eng, [job]) == {"Done": 1}
    assert eng.holders(LABEL_A) == eng.holders(LABEL_B) == 0


def test_a_revoke_racing_a_hand_off_leaves_no_slot_to_the_revoked_job(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = engine(sim)
    first = eng.imagine("the one that runs")
    parked = eng.imagine("revoked while handed a slot")
    real = submit_step.account_for

    def racing(rt: Any, rec: Any) -> Any:
        if rec.job_id == parked and eng.state(parked) == RecordState.WAITING:
            cancelled, effects = cancel_parked(rt, [parked])  # revoke() arrives meanwhile
            eng.carry(effects)
            for job_id in cancelled:
                eng.outcomes[job_id] = Revoked("revoked")
                eng.stored.setdefault(job_id, []).append(Revoked("revoked"))
        return real(rt, rec)

    monkeypatch.setattr(submit_step, "account_for", racing)
    assert eng.run_until(eng.done(first, parked), 10)
    assert eng.run_until(lambda: eng.holders(LABEL_A) == 0, 2)
    later = eng.imagine("the next one")
    assert eng.run_until(eng.done(later), 10)
    assert account(sim)["submits"] == 2


@pytest.mark.slow
def test_an_error_inside_a_run_never_stores_a_failure_for_a_job_that_goes_on(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = engine(sim, capacity=3)
    real = submit_step.show_submitted

    def fail_once(*args: Any) -> None:
        monkeypatch.setattr(submit_step, "show_submitted", real)
        raise ValueError("1 validation error for SomeModel")  # not TTAPI's

    monkeypatch.setattr(submit_step, "show_submitted", fail_once)
    job = eng.imagine("a job whose run broke")
    eng.pump_every = 0.1
    assert eng.run_until(eng.done(job), 10)
    assert eng.run_until(lambda: eng.holders(LABEL_A) == 0, 5)
    assert stored_once(eng, [job]) == {"Done": 1}
    assert account(sim)["submits"] == 1


def test_two_reports_of_one_ended_job_running_side_by_side_deliver_it_once(
    sim: Simulator,
) -> None:
    eng = engine(sim, capacity=3)
    eng.dispatcher.drop = lambda step: step.kind == "resume"  # its report is not sent yet
    job = eng.imagine("reported twice")
    assert eng.run_until(lambda: eng.state(job) == RecordState.SUCCESS, 10)
    inp = eng.inputs[job]

    def report() -> Any:
        return entry.run(eng.rt, job, inp.kind, inp.params, signature={})[0]

    first, second = report(), report()  # neither has been stored yet (Celery's after_return)
    assert [type(first), type(second)] == [Done, Park]


def test_a_pump_round_that_outlived_its_turn_leaves_the_next_rounds_turn_alone(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = engine(sim)
    rt, real = eng.rt, maintenance._round

    def slow_round(*args: Any) -> Any:
        rt.redis.delete(rt.keys.pump_turn)  # this round ran past its turn...
        assert rt.redis.set(rt.keys.pump_turn, "the next round", px=60_000)  # ...taken anew
        return real(*args)

    monkeypatch.setattr(maintenance, "_round", slow_round)
    eng.pump()
    assert rt.redis.get(rt.keys.pump_turn) == "the next round"
