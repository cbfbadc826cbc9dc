"""The engine's promise under interleavings: never pay twice, never lose a job, never leak a slot.

Each test recreates one defect found by reading the code (a kill between two steps, a stale poll,
a look-alike job in TTAPI's history, a removed key, a skewed clock) on fakeredis and the simulator.
"""

from __future__ import annotations

import time
from itertools import pairwise
from typing import Any

import pytest

from config.settings import Settings
from tests.support.engine import (
    FAST,
    KEY_A,
    KEY_B,
    LABEL_A,
    LABEL_B,
    account_stats,
    build_engine,
    submits,
)
from tests.support.inline import InlineEngine, Inputs, Killed
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.jobs import entry, maintenance
from worker.jobs import poll as completion
from worker.jobs.effects import Report, Submit
from worker.jobs.outcome import Failed, Park, Revoked
from worker.jobs.placement import move_waiters
from worker.jobs.record import RecordState
from worker.jobs.revoke import cancel
from worker.jobs.runtime import Runtime
from worker.jobs.settle import settle
from worker.ttapi import errors
from worker.ttapi.client import TTAPIClient
from worker.ttapi.responses import JobInfo

# Short HTTP timeouts: the pump takes a submit for lost after connect + read + its stall time.
QUICK = {"mj_http_connect_timeout_s": 0.5, "mj_http_read_timeout_s": 0.5}


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    """TTAPI's cap far above ours (3), so every refusal a test sees is one it staged."""
    return make_sim(keys=[KEY_A, KEY_B], capacity=200, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    return build_engine(sim, capacity=3, **QUICK)


def ambiguous_job(
    eng: InlineEngine, job: str, prompt: str, *, sent_ago: float, lost_ago: float
) -> None:
    """A job whose submit answer was lost: AMBIGUOUS, holding its slot."""
    rt = eng.rt
    eng.inputs[job] = Inputs("imagine", {"prompt": prompt, "mode": "fast"})
    rt.records.create(
        job,
        kind="imagine",
        params={"prompt": prompt, "mode": "fast"},
        account=LABEL_A,
        sig={"job": job},
    )
    assert rt.guard.acquire(LABEL_A, job).granted
    now = rt.clock()
    assert rt.records.move(
        job,
        RecordState.NEW,
        RecordState.AMBIGUOUS,
        sent_at=now - sent_ago,
        lost_at=now - lost_ago,
        poll_seq=1,
    )


def load(eng: InlineEngine, job: str) -> Any:
    rec = eng.rt.records.load(job)
    assert rec is not None
    return rec


# -- defect 1: reconcile must accept a claim that is already its own --------------------------


@pytest.mark.slow
def test_a_submitter_killed_after_its_claim_is_reconciled_to_its_own_job_not_resubmitted(
    eng: InlineEngine, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A submit's answer claims its TTAPI job and moves the record in one script, so no kill
    # comes between the two there. The same state (the claim its own, the record still
    # SUBMITTING) is left by a callback's `claims.hooked` killed between its claim and its
    # write, or by a worker of the release before killed mid-answer during a rolling upgrade.
    real_move = eng.rt.records.move_claimed

    def die_after_claiming(job_id: str, expect: Any, claim: Any, **kw: Any) -> Any:
        eng.rt.redis.set(claim.key, job_id, ex=claim.ttl_s)
        raise Killed

    monkeypatch.setattr(eng.rt.records, "move_claimed", die_after_claiming)
    eng.imagine("a kite over the dunes")
    assert [s.kind for s in eng.killed] == ["submit"]
    monkeypatch.setattr(eng.rt.records, "move_claimed", real_move)
    [job] = eng.inputs
    [ttapi_id] = sim.stats()["jobs"]
    # The account's scan takes the submit for lost (its HTTP timeouts passed) and reconciles.
    assert eng.run_until(eng.done(job), 15)
    assert eng.result(job)["job_id"] == ttapi_id
    assert submits(sim) == 1


def test_a_submit_answered_after_the_pump_took_it_for_lost_keeps_its_ttapi_job(
    eng: InlineEngine, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = eng.rt.pool.client(LABEL_A)
    real_submit = client.submit

    def slow_submit(request: Any, **kwargs: Any) -> Any:
        answer = real_submit(request, **kwargs)
        [job] = eng.inputs  # meanwhile the pump moved the record on
        assert eng.rt.records.move(
            job, RecordState.SUBMITTING, RecordState.AMBIGUOUS, poll_seq=1, lost_at=time.time()
        )
        return answer

    monkeypatch.setattr(client, "submit", slow_submit)
    job = eng.imagine("a slow answer")
    monkeypatch.setattr(client, "submit", real_submit)
    [ttapi_id] = sim.stats()["jobs"]
    assert load(eng, job).state == RecordState.SUBMITTED
    assert load(eng, job).ttapi_job_id == ttapi_id
    assert eng.run_until(eng.done(job), 8)
    assert submits(sim) == 1


# -- defect 2: grace from the loss, all pages, one resubmit, the callback, no history ---------


def test_the_reconcile_grace_counts_from_when_the_answer_was_lost_not_from_the_send(
    eng: InlineEngine,
) -> None:
    # Sent 5 s ago (a read timeout), lost just now: TTAPI's history may not show it yet.
    ambiguous_job(eng, "lost-now", "a late answer", sent_ago=5.0, lost_ago=0.0)
    effects = completion.reconcile(eng.rt, load(eng, "lost-now"))
    assert load(eng, "lost-now").state == RecordState.AMBIGUOUS
    assert not [e for e in effects if isinstance(e, Report | Submit)]  # no resubmit


def test_reconcile_reads_as_many_history_pages_as_reach_back_to_the_send(
    eng: InlineEngine, sim: Simulator
) -> None:
    other = TTAPIClient(eng.rt.pool.accounts[LABEL_A], sim.url)
    ours = other.imagine("a page two prompt").job_id
    for i in range(120):  # newer jobs push ours onto page 2 of the history
        other.imagine(f"a crowd {i}")
    ambiguous_job(eng, "paged", "a page two prompt", sent_ago=1.0, lost_ago=1.0)
    eng.carry(completion.reconcile(eng.rt, load(eng, "paged")))
    assert load(eng, "paged").ttapi_job_id == ours
    assert submits(sim) == 121


@pytest.mark.slow
def test_a_lost_submit_is_resubmitted_until_its_deadline_then_fails_clearly(
    eng: InlineEngine, sim: Simulator
) -> None:
    sim.set_faults(rate_truncated=1.0, fault_paths=["imagine"])  # garbled, nothing created
    job = eng.imagine("an answer that never arrives")
    assert eng.run_until(eng.done(job), 20)
    assert "Submit answer lost" in eng.error(job)
    rec = load(eng, job)
    assert rec.submit_attempts == rec.ambiguous_resubmits + 1 >= 2
    assert rec.finished_at_ts >= rec.deadline > 0
    assert submits(sim) == 0


@pytest.mark.slow
def test_when_ttapis_history_cannot_be_read_the_job_fails_without_resubmit_and_keeps_its_place(
    eng: InlineEngine, sim: Simulator
) -> None:
    sim.set_faults(rate_504_after_create=1.0, fault_paths=["imagine"])
    job = eng.imagine("a job nobody can see")
    sim.set_faults(rate_504_after_create=0.0, rate_500=1.0, fault_paths=["fetch-list"])
    assert eng.run_until(eng.done(job), 10)
    assert "history is unavailable" in eng.error(job)
    assert "504" in eng.error(job)  # what the lost submit was answered
    assert submits(sim) == 1
    # TTAPI may run it: its place is occupancy (3 of 3 become 2), not a slot locked for its
    # longest life; a probe TTAPI accepts gives the place back.
    state = eng.rt.guard.state(LABEL_A)
    assert (state.holders, state.effective_cap) == ({}, 2)
    assert eng.pump()["reaped"] == 0


def test_a_history_that_answers_429_is_throttled_not_unavailable(
    eng: InlineEngine, sim: Simulator
) -> None:
    # A 429 proves TTAPI answers: only failures that say nothing (5xx, timeouts) count
    # towards "unavailable", so a rate-limited history delays the search, never ends it.
    sim.set_faults(rate_504_after_create=1.0, fault_paths=["imagine"])
    job = eng.imagine("a job behind a busy history")
    sim.set_faults(rate_504_after_create=0.0, rate_429=1.0, fault_paths=["fetch-list"])
    assert eng.run_until(
        lambda: account_stats(sim, LABEL_A)["count_429"] >= 8 and not eng.done(job)(), 10
    )
    sim.set_faults(rate_429=0.0)
    assert eng.run_until(eng.done(job), 10)
    assert eng.result(job)["status"] == "SUCCESS"
    assert submits(sim) == 1


@pytest.mark.slow
def test_a_history_throttled_past_the_jobs_deadline_ends_it_clearly_keeping_its_place(
    eng: InlineEngine, sim: Simulator
) -> None:
    # The real path: a first attempt's answer is lost (its loss sets the deadline), and the
    # history answers nothing but 429 from then on.
    sim.set_faults(rate_truncated=1.0, fault_paths=["imagine"])
    job = eng.imagine("a prompt behind a throttled history")
    sim.set_faults(rate_truncated=0.0, rate_429=1.0, fault_paths=["fetch-list"])
    assert eng.run_until(eng.done(job), 15)
    assert "stayed throttled" in eng.error(job)
    rec = load(eng, job)
    assert rec.finished_at_ts >= rec.deadline > 0
    assert submits(sim) == 0
    state = eng.rt.guard.state(LABEL_A)
    assert (state.holders, state.effective_cap) == ({}, 2)  # occupancy: TTAPI may run it


# -- defect 3: settle and fail compare the TTAPI job, not only the state ----------------------


def test_a_stale_answer_about_an_earlier_ttapi_job_never_ends_the_resubmitted_one(
    eng: InlineEngine,
) -> None:
    rt = eng.rt
    eng.inputs["aba"] = Inputs("imagine", {"prompt": "twice", "mode": "fast"})
    rt.records.create("aba", kind="imagine", params={"prompt": "twice"}, account=LABEL_A)
    assert rt.guard.acquire(LABEL_A, "aba").granted
    assert rt.records.move(
        "aba", RecordState.NEW, RecordState.SUBMITTED, ttapi_job_id="tt-first", poll_seq=1
    )
    stale = load(eng, "aba")  # a poll read this, then TTAPI's first job failed and was redone
    assert rt.records.update("aba", ttapi_job_id="tt-second", poll_seq=3)
    info = JobInfo.model_validate({"status": "SUCCESS", "jobId": "", "progress": "100"})
    assert settle(rt, stale, info) == (False, [])
    assert (load(eng, "aba").state, load(eng, "aba").ttapi_job_id) == (
        RecordState.SUBMITTED,
        "tt-second",
    )
    assert eng.holders(LABEL_A) == 1


# -- defect 4: a look-alike job in the history goes to the record nearest its creation --------


@pytest.mark.slow
def test_reconcile_takes_the_look_alike_created_nearest_its_own_send(
    eng: InlineEngine, sim: Simulator
) -> None:
    other = TTAPIClient(eng.rt.pool.accounts[LABEL_A], sim.url)
    sent = eng.rt.clock()
    ours = other.imagine("the batch's repeated prompt").job_id
    time.sleep(1.2)
    other.imagine("the batch's repeated prompt")  # another record's, not yet claimed
    ambiguous_job(eng, "nearest", "the batch's repeated prompt", sent_ago=0.0, lost_ago=0.0)
    eng.rt.records.update("nearest", sent_at=sent - 0.05)
    eng.carry(completion.reconcile(eng.rt, load(eng, "nearest")))
    assert load(eng, "nearest").ttapi_job_id == ours


# -- defect 5: a waiter moved off an account is never lost; the pump finds records by state ---


def test_moving_waiters_publishes_each_before_it_leaves_the_queue(eng: InlineEngine) -> None:
    rt = eng.rt
    rt.records.create("mover", kind="imagine", params={"prompt": "x"}, account=LABEL_A)
    for holder in ("h1", "h2", "h3"):
        assert rt.guard.acquire(LABEL_A, holder).granted
    assert rt.guard.acquire(LABEL_A, "mover").queued
    effects = move_waiters(rt, LABEL_A)  # killed before its reports go out
    assert effects == [Report("mover")]  # its own run moves it off the account
    assert rt.guard.state(LABEL_A).waiters == ["mover"]  # still findable


@pytest.mark.slow
def test_the_pump_resumes_a_waiting_job_that_has_no_message_and_no_place_in_the_guard(
    eng: InlineEngine, sim: Simulator
) -> None:
    job = "forgotten"
    eng.inputs[job] = Inputs("imagine", {"prompt": "a forgotten waiter", "mode": "fast"})
    eng.rt.records.create(
        job,
        kind="imagine",
        params={"prompt": "a forgotten waiter", "mode": "fast"},
        account=LABEL_A,
    )
    assert eng.rt.records.move(job, RecordState.NEW, RecordState.WAITING)
    eng.pump_every = 0.2
    assert eng.run_until(eng.done(job), 10)
    assert eng.result(job)["status"] == "SUCCESS"
    assert submits(sim) == 1


# -- defect 6: a removed key's jobs end clearly and its waiters move ------------------------


def test_jobs_of_a_removed_key_end_clearly_and_its_waiters_move_to_the_other_account(
    sim: Simulator,
) -> None:
    eng = build_engine(sim, capacity=2, fast_s=8.0, **QUICK)
    jobs = [eng.imagine(f"a removed key {i}") for i in range(3)]  # 2 run, 1 waits
    assert eng.holders(LABEL_A) == 2
    # The operator drops KEY_A for KEY_B and restarts: a newer process, same Redis.
    time.sleep(0.05)
    settings = Settings(
        **{**eng.rt.settings.model_dump(), "ttapi_api_keys": KEY_B, "ttapi_api_key": None}
    )
    eng.restart(settings)
    eng.pump_every = 0.2
    assert eng.run_until(eng.all_done, 20)
    running, waiting = jobs[:2], jobs[2]
    for job in running:
        assert f"account {LABEL_A} was removed" in eng.error(job)
    assert eng.result(waiting)["account"] == LABEL_B
    assert eng.holders(LABEL_A) == 0


# -- defect 7: times another host compares come from Redis, not the local clock --------------


def test_every_time_a_worker_writes_for_others_to_compare_comes_from_redis(
    eng: InlineEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fakeredis.commands_mixins.server_mixin as server

    real_time = time.time

    class RedisHostClock:  # the Redis host is 90 s ahead of this worker's host
        time = staticmethod(lambda: real_time() + 90)

    monkeypatch.setattr(server, "time", RedisHostClock)
    rt = Runtime.build(eng.rt.settings, eng.rt.redis)
    assert abs(rt.clock() - (real_time() + 90)) < 1.0
    rec = rt.records.create("stamped", kind="imagine", params={"prompt": "x"})
    assert abs(rec.created_at - (real_time() + 90)) < 1.0
    assert rt.records.move("stamped", RecordState.NEW, RecordState.SUBMITTING, sent_at=rt.clock())
    eng.carry(maintenance.pump(rt)[1])  # a pump on the same clock: a fresh submit, not lost
    assert load(eng, "stamped").state == RecordState.SUBMITTING


# -- defect 8: a job whose `expires` passed before its submit is revoked, its place freed -----


def test_a_waiting_job_past_its_expiry_is_revoked_without_a_submit_and_frees_its_place(
    eng: InlineEngine, sim: Simulator
) -> None:
    busy = [eng.imagine(f"a full account {i}") for i in range(3)]
    late = "late"
    eng.inputs[late] = Inputs(
        "imagine", {"prompt": "too late", "mode": "fast"}, expires_at=eng.rt.clock() + 0.1
    )
    assert isinstance(eng.deliver(late), Park)
    time.sleep(0.2)
    assert eng.run_until(eng.done(*busy), 10)
    assert eng.run_until(lambda: load(eng, late).state == RecordState.REVOKED, 5)
    # its report is a step of its own, after the cancel that moved the record
    assert eng.run_until(lambda: late in eng.outcomes, 5)
    assert isinstance(eng.outcomes[late], Revoked)
    assert submits(sim) == 3
    assert eng.holders(LABEL_A) == 0
    assert eng.rt.guard.state(LABEL_A).waiters == []


def test_cancel_frees_a_handed_slot_for_the_next_waiter(eng: InlineEngine) -> None:
    rt = eng.rt
    for job in ("a", "b", "c", "d"):
        rt.records.create(job, kind="imagine", params={"prompt": job}, account=LABEL_A)
        rt.guard.acquire(LABEL_A, job)
    assert rt.guard.state(LABEL_A).waiters == ["d"]
    assert cancel(rt, load(eng, "a"), "revoked by the caller") == (True, [Submit(LABEL_A, "d")])
    assert "d" in rt.guard.state(LABEL_A).holders
    assert load(eng, "a").state == RecordState.REVOKED
    assert cancel(rt, load(eng, "a"), "twice") == (False, [])


# -- defect 9: Retry-After is bounded ------------------------------------------------------


@pytest.mark.parametrize(("said", "waited"), [(None, 0.0), (2.0, 2.0), (3600.0, 60.0)])
def test_retry_after_is_honoured_up_to_a_minute(
    eng: InlineEngine, said: float | None, waited: float
) -> None:
    assert eng.rt.timing.retry_after(said) == waited


def test_a_refusal_with_an_hour_long_retry_after_cools_the_account_for_at_most_a_minute(
    eng: InlineEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = eng.rt.pool.client(LABEL_A)

    def refuse(request: Any, **kwargs: Any) -> Any:
        raise errors.RateLimited("too frequent", status_code=429, retry_after=3600.0)

    monkeypatch.setattr(client, "submit", refuse)
    eng.imagine("a patient prompt")
    assert 0 < eng.rt.guard.state(LABEL_A).cooldown_ms <= 60_000


@pytest.mark.slow
def test_429s_with_retry_after_cool_the_account_for_what_ttapi_said_without_doubling(
    eng: InlineEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = eng.rt.pool.client(LABEL_A)
    refused = []

    def refuse(request: Any, **kwargs: Any) -> Any:
        refused.append(time.monotonic())
        raise errors.RateLimited("too frequent", status_code=429, retry_after=0.2)

    monkeypatch.setattr(client, "submit", refuse)
    eng.imagine("a patient prompt")
    assert eng.run_until(lambda: len(refused) >= 7, 10)
    assert 0 < eng.rt.guard.state(LABEL_A).cooldown_ms <= 200  # doubled 6 times: 3.2 s
    assert min(b - a for a, b in pairwise(refused)) >= 0.19


def test_a_failure_is_owed_to_its_caller_until_stored(eng: InlineEngine) -> None:
    job = eng.submit("imagine", {"prompt": "pinned"}, account=LABEL_A)
    eng.rt.pool.disable(LABEL_A, 401, "Unauthorized")
    eng.rt.records.create(
        "pinned-2", kind="imagine", params={"prompt": "p"}, account=LABEL_A, pinned=True
    )
    outcome, _ = entry.advance(
        eng.rt, "pinned-2", "imagine", {"prompt": "p"}, signature={}, account=LABEL_A
    )
    assert isinstance(outcome, Failed)
    assert eng.rt.redis.zscore(eng.rt.keys.undelivered, "pinned-2") is not None
    assert load(eng, "pinned-2").state == RecordState.FAILED
    assert job in eng.inputs


# -- what a caller sees: WAITING with its place, SUBMITTED with TTAPI's progress -------------


@pytest.mark.slow
def test_a_caller_sees_waiting_with_its_place_then_submitted_with_rising_progress(
    sim: Simulator,
) -> None:
    eng = build_engine(sim, capacity=1, fast_s=2.0)
    first, second = eng.imagine("a first lamp"), eng.imagine("a second lamp")
    assert eng.run_until(eng.all_done, 15)
    states = eng.dispatcher.states
    waiting = [meta for state, meta in states[second] if state == "WAITING"]
    assert waiting[0]["position"] == 1
    assert waiting[0]["account"] == LABEL_A
    assert waiting[0]["waiting_since"].endswith("+00:00")
    shown = [meta for state, meta in states[first] if state == "SUBMITTED"]
    assert shown[0]["progress"] == 0
    assert shown[0]["ttapi_job_id"] == eng.result(first)["job_id"]
    progress = [meta["progress"] for meta in shown]
    assert progress == sorted(progress) and len(set(progress)) > 1
    assert all(isinstance(p, int) and 0 <= p <= 100 for p in progress)


def test_every_ending_is_counted_once_by_outcome_and_successes_by_duration(
    eng: InlineEngine, sim: Simulator
) -> None:
    from worker.capacity import metrics

    ok = [eng.imagine(f"a counted dune {i}") for i in range(2)]
    bad = eng.imagine("a banned dune")  # the simulator fails "banned" prompts for good
    assert eng.run_until(eng.all_done, 10)
    for job in [*ok, bad]:
        eng.deliver(job)  # duplicates change nothing
    assert metrics.outcomes(eng.rt.redis, keys=eng.rt.keys) == {
        "success": 2,
        "failed": 1,
        "revoked": 0,
    }
    [(buckets, total)] = metrics.durations(eng.rt.redis, keys=eng.rt.keys).values()
    assert sum(n for _, n in buckets) >= 2 and total > 0


@pytest.mark.slow
def test_every_key_the_engine_writes_lives_under_the_configured_prefix(sim: Simulator) -> None:
    eng = InlineEngine.build(sim.url, [KEY_A], fast_s=FAST, capacity=1, mj_key_prefix="blue")
    jobs = [eng.imagine(f"a blue prefix {i}") for i in range(2)]
    assert eng.run_until(eng.all_done, 10)
    assert all(eng.result(j)["status"] == "SUCCESS" for j in jobs)
    written = set(eng.rt.redis.keys("*"))
    assert written and all(k.startswith("blue:") for k in written), sorted(written)


def _submitted_overdue(rt: Runtime, job_id: str, overdue_s: float) -> None:
    """A job submitted on account A, holding its slot, whose next poll was due `overdue_s`
    ago (step 1)."""
    rt.records.create(job_id, kind="imagine", params={"prompt": "x"}, account=LABEL_A)
    assert rt.guard.acquire(LABEL_A, job_id).granted
    assert rt.records.move(
        job_id,
        RecordState.NEW,
        RecordState.SUBMITTED,
        ttapi_job_id=f"tt-{job_id}",
        poll_seq=1,
        next_poll_at=rt.clock() - overdue_s,
    )


def test_a_long_job_on_an_account_an_engine_holds_is_left_to_that_engine(
    eng: InlineEngine,
) -> None:
    """A poll that sees nothing new writes nothing, so a long job's record looks overdue while
    its engine polls it: the pump's sweep must not start a second poll chain beside it."""
    rt = eng.rt
    assert rt.redis.get(rt.keys.owner(LABEL_A)) is not None  # the engine holds the account
    _submitted_overdue(rt, "long", 600)
    rt.records.look_again(["long"], rt.clock() - 3600)  # its record is due for the sweep
    assert eng.pump()["revived"] == 0
    rec = rt.records.load("long")
    assert rec is not None and rec.poll_seq == 1


def test_a_slow_poll_is_revived_once_not_at_every_pump_round(eng: InlineEngine) -> None:
    rt = eng.rt
    rt.redis.delete(rt.keys.owner(LABEL_A))  # no engine holds it: the pump looks after it
    _submitted_overdue(rt, "slow", 60)
    assert eng.pump()["revived"] == 1
    assert eng.pump()["revived"] == 0  # its revived step is queued, just not run yet
