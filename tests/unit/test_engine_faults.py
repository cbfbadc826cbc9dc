"""The job engine in-process against a misbehaving TTAPI: 499/429/500, lost submit answers, 401/402.

Each test injects faults into the simulator and checks that every job still ends SUCCESS or in a
clear FAILURE, that no prompt is paid twice, and that the cap holds.
"""

from __future__ import annotations

import time

import pytest

from config.settings import account_label
from tests.support.engine import FAST, KEY_A, KEY_B, LABEL_A, account, build_engine
from tests.support.inline import InlineEngine, Inputs
from tests.support.simulators import SimFactory
from worker.capacity import metrics
from worker.devtools.simulator import Simulator
from worker.jobs import poll as completion
from worker.jobs.record import RecordState
from worker.jobs.refusals import probe_timing
from worker.policy import MAX_SUBMIT_ATTEMPTS

KEY_BAD = "sk-engine-fault-unknown-0009"  # the simulator answers 401 to it


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A, KEY_B], capacity=4, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    return build_engine(sim, capacity=4)


@pytest.mark.slow
def test_a_499_from_another_client_on_the_key_makes_jobs_wait_not_fail(
    eng: InlineEngine, sim: Simulator
) -> None:
    sim.set_account(KEY_A, other_client=2)  # someone else runs 2 of our 4 places
    jobs = [eng.imagine(f"a shared key {i}") for i in range(6)]
    assert eng.run_until(eng.all_done, 10)
    assert all(eng.result(j)["status"] == "SUCCESS" for j in jobs)
    stats = account(sim)
    assert stats["count_499"] > 0
    assert stats["submits"] == 6
    assert stats["peak_in_progress"] <= 4  # counted with the other client's 2
    assert metrics.recent(eng.rt.redis, LABEL_A, 499, keys=eng.rt.keys) == stats["count_499"]
    assert eng.holders(LABEL_A) == 0


@pytest.mark.slow
def test_a_499_with_nothing_of_ours_running_probes_once_a_gap_until_a_slot_frees(
    eng: InlineEngine, sim: Simulator
) -> None:
    sim.set_account(KEY_A, other_client=4)  # someone else fills every place of the key
    job = eng.imagine("a crowded key")
    assert eng.run_until(lambda: account(sim)["count_499"] >= 1, 10)
    state = eng.rt.guard.state(LABEL_A)
    assert (state.effective_cap, state.cooldown_ms) == (0, 0)  # a limit, not a cooldown
    expected = eng.rt.durations.expected(LABEL_A, "fast", "imagine")
    gap = probe_timing(expected, eng.rt.timing.cooldown_s)[0]
    started, before = time.monotonic(), account(sim)["count_499"]
    eng.run_until(lambda: False, 1.0)
    probes = account(sim)["count_499"] - before
    assert 1 <= probes <= (time.monotonic() - started) / gap + 1
    sim.set_account(KEY_A, other_client=0)
    assert eng.run_until(eng.done(job), 20)
    assert eng.result(job)["status"] == "SUCCESS"
    assert account(sim)["submits"] == 1


def test_429s_in_a_row_without_retry_after_double_the_cooldown_and_a_success_resets_it(
    eng: InlineEngine, sim: Simulator
) -> None:
    sim.set_faults(rate_429=1.0, fault_paths=["imagine"])
    job = eng.imagine("a hurried key")
    base_ms = eng.rt.timing.cooldown_s * 1000
    assert eng.run_until(lambda: account(sim)["count_429"] >= 3, 10)
    assert eng.rt.guard.state(LABEL_A).cooldown_ms > 2 * base_ms  # grew past two steps
    assert eng.rt.guard.state(LABEL_A).effective_cap is None  # too fast, not too full
    sim.set_faults(rate_429=0.0)
    assert eng.run_until(eng.done(job), 20)
    assert eng.result(job)["status"] == "SUCCESS"
    assert eng.rt.redis.get(eng.rt.keys.refusals(LABEL_A)) is None
    assert account(sim)["submits"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("paths", [["fetch"], ["imagine", "fetch", "fetch-list"]])
def test_a_429_storm_never_fails_a_job(eng: InlineEngine, sim: Simulator, paths: list[str]) -> None:
    sim.set_faults(rate_429=0.5, fault_paths=paths)
    jobs = [eng.imagine(f"a windy day {i}") for i in range(6)]
    assert eng.run_until(eng.all_done, 15)
    assert all(eng.result(j)["status"] == "SUCCESS" for j in jobs)
    stats = account(sim)
    assert stats["count_429"] > 0
    assert (stats["submits"], stats["count_499"]) == (6, 0)


@pytest.mark.slow
def test_a_500_on_submit_is_reconciled_then_sent_again_once_the_history_shows_nothing(
    eng: InlineEngine, sim: Simulator
) -> None:
    sim.set_faults(rate_500=1.0, fault_paths=["imagine"])
    job = eng.imagine("a stormy sea")
    assert (
        eng.state(job) == RecordState.AMBIGUOUS
    )  # a 500 may follow a created job: never resent blind
    sim.set_faults(rate_500=0.0)
    assert eng.run_until(eng.done(job), 5)
    assert eng.result(job)["status"] == "SUCCESS"
    assert (account(sim)["count_500"], account(sim)["submits"]) == (1, 1)


@pytest.mark.slow
def test_a_500_on_every_submit_fails_after_two_resends_with_ttapis_words(
    eng: InlineEngine, sim: Simulator
) -> None:
    sim.set_faults(rate_500=1.0, fault_paths=["imagine"])
    job = eng.imagine("a stormy sea")
    assert eng.run_until(eng.done(job), 8)
    assert "(Internal Server Error)" in eng.error(job)
    stats = account(sim)
    assert (stats["count_500"], stats["submits"]) == (3, 0)
    state = eng.rt.guard.state(LABEL_A)  # the history showed no such job: the slot is free
    assert (state.holders, state.effective_cap) == ({}, None)


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["rate_504_after_create", "rate_reset_after_create"])
def test_a_lost_submit_answer_is_reconciled_to_the_same_ttapi_job(
    eng: InlineEngine, sim: Simulator, fault: str
) -> None:
    sim.set_faults(**{fault: 1.0}, fault_paths=["imagine"])
    job = eng.imagine("a lost letter")
    assert eng.state(job) == RecordState.AMBIGUOUS
    sim.set_faults(**{fault: 0.0})
    assert eng.run_until(eng.done(job), 5)
    [ttapi_id] = sim.stats()["jobs"]
    assert eng.result(job)["job_id"] == ttapi_id
    assert account(sim)["submits"] == 1  # never paid twice


def test_two_lost_submits_of_one_prompt_each_claim_their_own_ttapi_job(
    eng: InlineEngine, sim: Simulator
) -> None:
    sim.set_faults(rate_504_after_create=1.0, fault_paths=["imagine"])
    jobs = [eng.imagine("the same prompt") for _ in range(2)]
    sim.set_faults(rate_504_after_create=0.0, fault_paths=["fetch-list"], rate_500=0.5)
    assert eng.run_until(eng.all_done, 8)
    assert sorted(eng.result(j)["job_id"] for j in jobs) == sorted(sim.stats()["jobs"])
    assert account(sim)["submits"] == 2


@pytest.mark.slow
def test_a_lost_submit_that_created_nothing_is_submitted_again_after_the_grace(
    eng: InlineEngine, sim: Simulator
) -> None:
    sim.set_faults(rate_truncated=1.0, fault_paths=["imagine"])  # garbled, nothing created
    job = eng.imagine("a blank page")
    assert eng.state(job) == RecordState.AMBIGUOUS
    sim.set_faults(rate_truncated=0.0)
    started = time.monotonic()
    assert eng.run_until(lambda: account(sim)["submits"] == 1, 5)
    assert time.monotonic() - started >= 0.8 * eng.rt.timing.reconcile_grace_s
    assert eng.run_until(eng.done(job), 5)
    assert eng.result(job)["status"] == "SUCCESS"
    assert account(sim)["submits"] == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("age", "state"), [(5.0, RecordState.WAITING), (0.1, RecordState.AMBIGUOUS)]
)
def test_reconcile_resubmits_only_once_the_grace_has_passed(
    eng: InlineEngine, sim: Simulator, age: float, state: str
) -> None:
    done = eng.imagine("an unrelated job")  # fetch-list is not empty, it just lacks ours
    assert eng.run_until(eng.done(done), 5)
    job = "lost-submit"
    eng.inputs[job] = Inputs("imagine", {"prompt": "nothing like it"})
    rt = eng.rt
    rt.records.create(
        job, kind="imagine", params={"prompt": "nothing like it"}, account=LABEL_A, sig={"job": job}
    )
    assert rt.guard.acquire(LABEL_A, job).granted
    # Lost `age` ago, within its deadline (a loss sets one: the sent job's longest life).
    sent = time.time() - age
    assert rt.records.move(
        job, RecordState.NEW, RecordState.AMBIGUOUS, sent_at=sent, poll_seq=1, deadline=sent + 60
    )
    eng.carry(completion.reconcile(rt, rt.records.load(job)))  # type: ignore[arg-type]
    assert eng.state(job) == state
    # A resubmit is the engine's own (a timer), never a re-published task.
    assert len(eng.dispatcher.pending("submit", job)) == (state == RecordState.WAITING)
    assert not eng.dispatcher.pending("resume", job)
    if state == RecordState.WAITING:
        assert eng.run_until(eng.done(job), 5)
        assert eng.result(job)["prompt"] == "nothing like it"
        assert account(sim)["submits"] == 2


@pytest.mark.slow
def test_a_401_takes_the_account_out_of_rotation_and_jobs_go_to_the_other(
    sim: Simulator,
) -> None:
    eng = build_engine(sim, KEY_BAD, KEY_A, capacity=4)
    jobs = [eng.imagine(f"a key test {i}") for i in range(6)]
    assert eng.run_until(eng.all_done, 10)
    assert {eng.result(j)["account"] for j in jobs} == {LABEL_A}
    reason = eng.rt.pool.disabled_reason(account_label(KEY_BAD)) or ""
    assert reason.startswith("401")
    assert sim.stats()["count_401"] == 1  # one refusal, then no more calls on that key
    assert account(sim)["submits"] == 6


@pytest.mark.parametrize("pinned", [False, True])
def test_a_402_on_the_only_account_fails_clearly_naming_it(
    eng: InlineEngine, sim: Simulator, pinned: bool
) -> None:
    sim.set_account(KEY_A, balance=0)
    job = eng.submit("imagine", {"prompt": "a penny"}, account=LABEL_A if pinned else None)
    assert eng.run_until(eng.done(job), 5)
    message = eng.error(job)
    assert LABEL_A in message
    assert "Insufficient balance" in message
    assert account(sim)["submits"] == 0
    assert eng.holders(LABEL_A) == 0


@pytest.mark.slow
def test_a_follow_up_is_refused_before_any_request_when_not_in_the_components(
    eng: InlineEngine, sim: Simulator
) -> None:
    grid = eng.imagine("a grid to press")
    assert eng.run_until(eng.done(grid), 5)
    before = account(sim)["requests"]
    bad = eng.submit("action", {"action": "upscale_creative"}, parent=eng.result(grid))
    assert "upscale_creative" in eng.error(bad) and "upsample1" in eng.error(bad)
    assert account(sim)["requests"] == before
    good = eng.submit("action", {"action": "upsample1"}, parent=eng.result(grid))
    assert eng.run_until(eng.done(good), 5)
    upscale = eng.submit("action", {"action": "upscale_creative"}, parent=eng.result(good))
    assert eng.run_until(eng.done(upscale), 5)
    assert eng.result(upscale)["account"] == LABEL_A


@pytest.mark.slow
def test_a_fetch_that_keeps_failing_backs_off_without_failing_the_job(
    eng: InlineEngine, sim: Simulator
) -> None:
    job = eng.imagine("a patient job")
    sim.set_faults(rate_500=1.0, fault_paths=["fetch"])
    assert eng.run_until(lambda: eng.count("poll", job) >= 6, 5)
    assert eng.state(job) == RecordState.SUBMITTED
    rec = eng.rt.records.load(job)
    assert rec is not None and rec.fetch_errors >= 5
    sim.set_faults(rate_500=0.0)
    assert eng.run_until(eng.done(job), 5)
    assert eng.result(job)["status"] == "SUCCESS"


@pytest.mark.slow
def test_refusals_that_created_nothing_do_not_use_up_the_submit_retries(
    eng: InlineEngine, sim: Simulator
) -> None:
    sim.set_faults(rate_429=1.0, fault_paths=["imagine"])
    job = eng.imagine("a busy morning")
    assert eng.run_until(lambda: account(sim)["count_429"] >= MAX_SUBMIT_ATTEMPTS, 5)
    sim.set_faults(rate_429=0.0, rate_500=1.0)
    assert eng.run_until(lambda: account(sim)["count_500"] >= 1, 5)
    sim.set_faults(rate_500=0.0)
    assert eng.run_until(eng.done(job), 5)
    assert eng.result(job)["status"] == "SUCCESS"
    assert account(sim)["submits"] == 1
