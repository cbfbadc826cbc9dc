"""The job engine in-process (tests/support/inline.py): fakeredis, the simulator, no Celery.

Idempotency of redelivered and duplicated messages, the cap, job outcomes by TTAPI's FAILED
messages, follow-ups, validation, the pump's repairs and secrets.
"""

from __future__ import annotations

import logging

import pytest

from tests.support.engine import FAST, KEY_A, KEY_B, LABEL_A, LABEL_B, account, build_engine
from tests.support.inline import InlineEngine, Killed, Step
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.jobs.outcome import Park
from worker.jobs.record import RecordState


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A, KEY_B], capacity=3, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    return build_engine(sim, capacity=3)


@pytest.mark.slow
@pytest.mark.parametrize("when", ["at once", "while it is polled", "after it finished"])
def test_a_redelivered_message_submits_once(eng: InlineEngine, sim: Simulator, when: str) -> None:
    job = eng.imagine("a lighthouse at dawn")
    if when == "while it is polled":
        assert eng.run_until(lambda: eng.count("poll") >= 1, 5)
    elif when == "after it finished":
        assert eng.run_until(eng.done(job), 5)
        # Its result is stored: a duplicate ends quietly (returning the result again would
        # fire the chain's callbacks a second time).
        assert isinstance(eng.deliver(job), Park)
    eng.deliver(job)
    eng.deliver(job)
    assert eng.run_until(eng.done(job), 5)
    assert eng.result(job)["status"] == "SUCCESS"
    assert account(sim)["submits"] == 1
    assert eng.holders(LABEL_A) == 0


def test_a_poll_run_twice_merges_into_one_schedule_and_a_stray_one_does_nothing(
    eng: InlineEngine, sim: Simulator
) -> None:
    job = eng.imagine("a red kite")
    [poll] = eng.dispatcher.pending("poll", job)
    eng.run(poll)
    eng.run(poll)  # the same step again (two engines, while the account changes hands)
    eng.run(Step("poll", job, poll.seq + 5))  # a stray step of no chain at all
    [ttapi_job] = sim.stats()["jobs"].values()
    assert ttapi_job["fetches"] <= 2
    assert len(eng.dispatcher.pending("poll", job)) == 1  # one schedule goes on, not two
    assert eng.run_until(eng.done(job), 5)
    assert eng.result(job)["status"] == "SUCCESS"


@pytest.mark.slow
def test_jobs_beyond_the_cap_wait_and_go_out_as_slots_free(
    eng: InlineEngine, sim: Simulator
) -> None:
    jobs = [eng.imagine(f"a paper boat {i}") for i in range(8)]
    assert eng.run_until(eng.all_done, 10)
    assert all(eng.result(j)["status"] == "SUCCESS" for j in jobs)
    stats = account(sim)
    assert (stats["peak_in_progress"], stats["count_499"], stats["submits"]) == (3, 0, 8)
    assert eng.holders(LABEL_A) == 0
    assert eng.rt.guard.state(LABEL_A).waiters == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("prompt", "submits", "error"),
    [
        ("a flaky tower", 2, None),
        ("an internal tower", 2, "[Internal error]"),
        ("a banned tower", 1, "[Banned prompt detected]"),
        ("a denied tower", 1, "[Image denied]"),
        ("an invalidparam tower", 1, "[Invalid parameter]"),
    ],
)
def test_ttapis_failed_jobs_are_resubmitted_once_only_when_worth_it(
    eng: InlineEngine, sim: Simulator, prompt: str, submits: int, error: str | None
) -> None:
    job = eng.imagine(prompt)
    assert eng.run_until(eng.done(job), 8)
    if error is None:
        assert eng.result(job)["status"] == "SUCCESS"
    else:
        assert eng.error(job).startswith(error)
    assert account(sim)["submits"] == submits
    assert eng.holders(LABEL_A) == 0


def test_a_failed_job_frees_its_slot_for_the_next_waiter(eng: InlineEngine, sim: Simulator) -> None:
    bad = eng.imagine("a banned tower")
    good = [eng.imagine(f"a good tower {i}") for i in range(3)]
    assert eng.rt.guard.state(LABEL_A).waiters == [good[-1]]
    assert eng.run_until(eng.all_done, 8)
    assert eng.error(bad).startswith("[Banned prompt detected]")
    assert all(eng.result(j)["status"] == "SUCCESS" for j in good)
    assert account(sim)["peak_in_progress"] == 3


@pytest.mark.slow
def test_a_follow_up_runs_on_its_parents_account(sim: Simulator) -> None:
    eng = build_engine(sim, KEY_A, KEY_B, capacity=3)
    grid = eng.submit("imagine", {"prompt": "a fox", "mode": "fast"}, account=LABEL_B)
    assert eng.run_until(eng.done(grid), 5)
    parent = eng.result(grid)
    ups = [eng.submit("action", {"action": f"upsample{i}"}, parent=parent) for i in (1, 2, 3)]
    by_id = eng.submit("action", {"action": "upsample4"}, parent=parent["job_id"])
    assert eng.run_until(eng.all_done, 8)
    for job in [*ups, by_id]:
        result = eng.result(job)
        assert (result["account"], result["parent_job_id"]) == (LABEL_B, parent["job_id"])
    assert {j["label"] for j in sim.stats()["jobs"].values()} == {LABEL_B}


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("imagine", {"prompt": "a cat", "mode": "warp"}, "mode"),
        ("imagine", {"prompt": "a cat", "timeout": 5}, "timeout"),
        ("imagine", {"prompt": "a cat", "nonsense": 1}, "nonsense"),
        ("paint", {"prompt": "a cat"}, "kind"),
        ("action", {"action": "upscale_creative"}, "action"),  # not in a grid's components
        ("action", {"action": "upsample9"}, "action"),
    ],
)
def test_bad_input_fails_before_any_http_call_naming_the_field(
    eng: InlineEngine, sim: Simulator, kind: str, params: dict[str, object], field: str
) -> None:
    grid = {
        "job_id": "0f0e0d0c",
        "status": "SUCCESS",
        "account": LABEL_A,
        "components": ["upsample1", "upsample2", "reroll"],
    }
    job = eng.submit(kind, params, parent=grid)
    assert field in eng.error(job)
    assert eng.state(job) == ""  # no record: nothing to clean up
    assert account(sim)["requests"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("lost", ["the first poll of a job", "the submit of a waiter"])
def test_the_engines_scan_repairs_a_lost_action(
    eng: InlineEngine, sim: Simulator, lost: str
) -> None:
    victim = "the-victim"
    wanted = Step("poll", victim, 1) if "poll" in lost else Step("submit", victim, 0, LABEL_A)
    dropped: list[Step] = []

    def lose_once(step: Step) -> bool:
        if step == wanted and not dropped:
            dropped.append(step)
            return True
        return False

    eng.dispatcher.drop = lose_once
    eng.scan_every = None  # no scan until the loss is proven
    if "poll" in lost:
        eng.submit("imagine", {"prompt": "the victim"}, job_id=victim)
    others = [eng.imagine(f"a slow river {i}") for i in range(3)]
    if "submit" in lost:  # queued behind the others; a release hands it a slot
        eng.submit("imagine", {"prompt": "the victim"}, job_id=victim)
        assert eng.rt.guard.state(LABEL_A).waiters == [victim]
    # Well inside the lease (2 s here): only a scan of the account can still help.
    assert not eng.run_until(eng.done(victim), 1.5), "the action was not lost"
    assert dropped == [wanted]
    eng.scan_every = 0.2
    assert eng.run_until(eng.all_done, 8)
    assert [eng.result(j)["status"] for j in [victim, *others]] == ["SUCCESS"] * 4
    assert eng.count("scan") >= 1
    assert account(sim)["submits"] == 4


@pytest.mark.slow
def test_the_pump_redelivers_a_result_whose_resume_was_lost(eng: InlineEngine) -> None:
    job = eng.imagine("a quiet harbour")
    eng.dispatcher.drop = lambda s: s.kind == "resume" and eng.state(job) == RecordState.SUCCESS
    assert not eng.run_until(eng.done(job), 1.5)
    eng.dispatcher.drop = lambda s: False
    eng.pump_every = 0.2
    assert eng.run_until(eng.done(job), 5)
    assert eng.result(job)["status"] == "SUCCESS"
    assert sum(p["redelivered"] for p in eng.pumped) == 1
    assert eng.rt.redis.zcard(eng.rt.keys.undelivered) == 0


@pytest.mark.slow
def test_no_record_log_line_or_result_holds_an_api_key(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim.set_account(KEY_B, balance=0)
    eng = build_engine(sim, KEY_A, KEY_B, "sk-engine-unit-unknown-0003", capacity=3)
    jobs = [eng.imagine(p) for p in ("a cat", "a banned cat", "a flaky cat", "a dog", "a cow")]
    jobs.append(eng.submit("imagine", {"prompt": "a bat"}, account=LABEL_B))
    sim.set_faults(rate_504_after_create=0.5, rate_429=0.2)
    jobs += [eng.imagine(f"an owl {i}") for i in range(4)]
    sim.set_faults(rate_504_after_create=0.0, rate_429=0.0)
    assert eng.run_until(eng.all_done, 10)
    kinds = {type(eng.outcomes[j]).__name__ for j in jobs}
    assert kinds == {"Done", "Failed"}
    r = eng.rt.redis
    dump = [caplog.text, repr(eng.outcomes)]
    for key in r.scan_iter("*"):
        kind = r.type(key)
        value = (
            r.hgetall(key)
            if kind == "hash"
            else r.zrange(key, 0, -1)
            if kind == "zset"
            else r.get(key)
            if kind == "string"
            else r.smembers(key)
            if kind == "set"
            else r.lrange(key, 0, -1)
        )
        dump.append(f"{key}={value!r}")
    text = "\n".join(dump)
    assert "sk-engine-unit" not in text
    assert LABEL_A in text and "Insufficient balance" in text  # the dump is not empty


@pytest.mark.slow
@pytest.mark.parametrize("how", ["submitted", "reconciled", "a follow-up"])
def test_a_relax_jobs_deadline_follows_ttapis_relax_timeout(
    eng: InlineEngine, sim: Simulator, how: str
) -> None:
    """TTAPI gives relax jobs 600 s; freeing the slot at 300 s would break the cap."""
    if how == "a follow-up":
        grid = eng.submit("imagine", {"prompt": "a slow grid", "mode": "relax"})
        assert eng.run_until(eng.done(grid), 5)
        job = eng.submit("action", {"action": "upsample1"}, parent=eng.result(grid))
    else:
        if how == "reconciled":
            sim.set_faults(rate_504_after_create=1.0, fault_paths=["imagine"])
        job = eng.submit("imagine", {"prompt": "a slow job", "mode": "relax"})
        sim.set_faults(rate_504_after_create=0.0)
    assert eng.run_until(lambda: eng.state(job) == RecordState.SUBMITTED, 5)
    rec = eng.rt.records.load(job)
    assert rec is not None
    timing = eng.rt.timing
    expected = 600 * timing.time_scale + timing.deadline_grace_s
    assert rec.deadline - rec.submitted_at_ts == pytest.approx(expected)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("prompt", "outcome"), [("a fine day", "Done"), ("a banned day", "Failed")]
)
def test_a_worker_killed_just_after_a_job_ended_still_delivers_its_outcome(
    eng: InlineEngine, monkeypatch: pytest.MonkeyPatch, prompt: str, outcome: str
) -> None:
    def die_once(*args: object, **kw: object) -> None:
        monkeypatch.undo()
        raise Killed

    # Dies after the record says it ended, before its outcome or its slot is passed on.
    monkeypatch.setattr(eng.dispatcher, "resume", die_once)
    job = eng.imagine(prompt)
    assert eng.run_until(lambda: bool(eng.killed), 5)
    assert eng.state(job) in (RecordState.SUCCESS, RecordState.FAILED)
    eng.pump_every = 0.2
    assert eng.run_until(eng.done(job), 6)
    assert type(eng.outcomes[job]).__name__ == outcome
    assert eng.run_until(lambda: eng.holders(LABEL_A) == 0, 3)  # the pump reaps the slot
