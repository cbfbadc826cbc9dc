"""Many callers, one pool, end to end in one engine (fakeredis, the simulator, no Celery).

A `high` job overtakes queued `low` ones; a job waiting on a full account moves to one with
room; a tenant's max_in_progress holds across accounts and its waiters say why they wait;
`daily_jobs` counts each job once and fails the rest before any HTTP call.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.engine import FAST, KEY_A, KEY_B, LABEL_A, LABEL_B, build_engine, submits
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.engine.core import Action
from worker.jobs.offers import line_of
from worker.jobs.record import IN_FLIGHT, RecordState
from worker.jobs.settle import hand_on
from worker.jobs.stealing import steal


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A, KEY_B], capacity=10, fast_s=FAST)


def engine(sim: Simulator, *keys: str, cap: int, **tenants: dict[str, Any]) -> InlineEngine:
    """An engine on `keys` (each with `cap` places) and MJ_TENANTS `tenants`."""
    eng = build_engine(sim, *keys, capacity=cap, mj_tenants=tenants)
    for label in eng.core.owned:  # what taking each account over does first
        eng.core.perform(Action("scan", label))
    return eng


def started(sim: Simulator) -> dict[str, dict[str, Any]]:
    """The simulator's jobs by prompt: account, creation and end (its clock)."""
    return {j["prompt"]: j for j in sim.stats()["jobs"].values()}


def test_a_high_job_overtakes_the_low_ones_already_waiting(sim: Simulator) -> None:
    eng = engine(sim, KEY_A, cap=1)
    lows = [eng.submit("imagine", {"prompt": f"low {i}"}, priority="low") for i in range(4)]
    high = eng.submit("imagine", {"prompt": "urgent"}, priority="high")
    assert eng.run_until(eng.all_done, 15)
    order = sorted(started(sim).values(), key=lambda j: j["submitted_at"])
    assert [j["prompt"] for j in order][:2] == ["low 0", "urgent"]
    assert all(eng.result(j)["status"] == "SUCCESS" for j in [*lows, high])


def test_a_waiting_job_shows_its_estimated_place_in_the_order_served(sim: Simulator) -> None:
    eng = engine(sim, KEY_A, cap=1)
    eng.submit("imagine", {"prompt": "running"})
    jobs = {
        name: eng.submit("imagine", {"prompt": name}, priority=name.split()[0])
        for name in ("low 1", "high 1", "low 2", "normal 1", "high 2")
    }
    shown = {name: eng.dispatcher.states[j][-1][1]["position"] for name, j in jobs.items()}
    # each when it was queued: behind the more urgent and the earlier of its class
    assert shown == {"low 1": 1, "high 1": 1, "low 2": 3, "normal 1": 2, "high 2": 2}
    assert eng.run_until(eng.all_done, 15)
    order = sorted(started(sim).values(), key=lambda j: j["submitted_at"])
    assert [j["prompt"] for j in order] == [
        "running",
        "high 1",
        "high 2",
        "normal 1",
        "low 1",
        "low 2",
    ]


def test_a_job_waiting_on_a_full_account_moves_to_one_with_room(sim: Simulator) -> None:
    eng = engine(sim, KEY_A, KEY_B, cap=1)
    eng.rt.pool.choose = lambda kind="imagine": LABEL_A  # say, from a stale reading
    first = eng.imagine("first on A")
    mover = eng.imagine("waits on A, B is free")
    assert eng.run_until(eng.all_done, 15)
    jobs = started(sim)
    assert jobs["waits on A, B is free"]["label"] == LABEL_B
    # it went at once, not when A's job ended
    assert jobs["waits on A, B is free"]["submitted_at"] < jobs["first on A"]["finished_at"]
    assert eng.result(mover)["account"] == LABEL_B and eng.result(first)["account"] == LABEL_A
    assert submits(sim, LABEL_A) == 1 and submits(sim, LABEL_B) == 1


def test_an_account_back_in_rotation_takes_waiters_from_the_others_lines(sim: Simulator) -> None:
    eng = engine(sim, KEY_A, KEY_B, cap=2)
    eng.rt.pool.disable(LABEL_B, 402, "Insufficient balance")
    jobs = [eng.imagine(f"backlog {i}") for i in range(8)]
    pinned = eng.submit("imagine", {"prompt": "pinned to A"}, account=LABEL_A)
    eng.rt.pool.enable(LABEL_B)
    eng.carry(hand_on(eng.rt, LABEL_B, eng.rt.guard.fill(LABEL_B)))  # as the refresh does
    assert eng.run_until(eng.all_done, 20)
    by_prompt = started(sim)
    assert by_prompt["pinned to A"]["label"] == LABEL_A
    assert submits(sim, LABEL_B) >= 3  # it took its share of A's line
    assert submits(sim, LABEL_A) + submits(sim, LABEL_B) == 9  # each paid once
    assert all(eng.result(j)["status"] == "SUCCESS" for j in [*jobs, pinned])
    assert all(sim.stats()["accounts"][lb]["peak_in_progress"] <= 2 for lb in (LABEL_A, LABEL_B))


def test_a_tenants_max_in_progress_holds_across_accounts_and_its_waiters_say_why(
    sim: Simulator,
) -> None:
    eng = engine(sim, KEY_A, KEY_B, cap=3, batch={"max_in_progress": 2})
    batch = [eng.submit("imagine", {"prompt": f"batch {i}"}, tenant="batch") for i in range(6)]
    web = [eng.submit("imagine", {"prompt": f"web {i}"}, tenant="web") for i in range(2)]
    peak = 0

    def done() -> bool:
        nonlocal peak
        recs = [eng.rt.records.load(j) for j in batch]
        peak = max(peak, sum(1 for rec in recs if rec and rec.state in IN_FLIGHT))
        return eng.all_done()

    assert eng.run_until(done, 20)
    assert peak == 2
    assert all(eng.result(j)["status"] == "SUCCESS" for j in [*batch, web[0], web[1]])
    reasons = {meta.get("reason") for j in batch for _, meta in eng.dispatcher.states[j]}
    assert "tenant batch is at its max_in_progress (2)" in reasons
    jobs = started(sim)
    web_start = max(jobs[f"web {i}"]["submitted_at"] for i in range(2))
    assert web_start < min(j["finished_at"] for j in jobs.values())  # not behind the batch


def test_daily_jobs_counts_each_job_once_and_fails_the_rest_before_any_call(
    sim: Simulator,
) -> None:
    eng = engine(sim, KEY_A, cap=5, nightly={"daily_jobs": 2})
    ok = [eng.submit("imagine", {"prompt": f"nightly {i}"}, tenant="nightly") for i in range(2)]
    eng.deliver(ok[0])  # a redelivered entry is the same job: not counted again
    over = eng.submit("imagine", {"prompt": "one too many"}, tenant="nightly")
    other = eng.submit("imagine", {"prompt": "another tenant"}, tenant="web")
    assert eng.run_until(eng.all_done, 15)
    assert all(eng.result(j)["status"] == "SUCCESS" for j in [*ok, other])
    message = eng.error(over)
    assert "tenant nightly" in message and "daily_jobs limit of 2" in message
    assert submits(sim) == 3 and "one too many" not in started(sim)
    assert eng.rt.records.load(over) is None  # ended before any record, any HTTP call


def test_a_donor_that_hands_a_moved_job_a_place_gives_it_back(sim: Simulator) -> None:
    eng = engine(sim, KEY_A, KEY_B, cap=1)
    eng.rt.pool.choose = lambda kind="imagine": LABEL_A
    first = eng.imagine("first on A")
    mover = eng.imagine("moves to B")
    rec = eng.rt.records.load(mover)
    assert rec is not None and rec.account == LABEL_B  # taken by B at once
    # a stale run of its entry (it read account A before the move) queues it on A again
    eng.rt.guard.enqueue(LABEL_A, mover, line=line_of(eng.rt, rec))
    assert eng.run_until(eng.all_done, 15)
    assert started(sim)["moves to B"]["label"] == LABEL_B
    assert submits(sim, LABEL_A) == 1 and submits(sim, LABEL_B) == 1  # paid once
    assert eng.holders(LABEL_A) == 0 and eng.holders(LABEL_B) == 0
    assert eng.result(first)["status"] == eng.result(mover)["status"] == "SUCCESS"


def test_a_taken_job_whose_record_moved_meanwhile_gives_its_place_back(sim: Simulator) -> None:
    eng = engine(sim, KEY_A, KEY_B, cap=1)
    rt = eng.rt
    assert rt.guard.acquire(LABEL_A, "holder").granted
    rt.records.create("elsewhere", RecordState.WAITING, kind="imagine", account=LABEL_B)
    rt.guard.enqueue(LABEL_A, "elsewhere", line=rt.guard.book.line("default", "normal", loose=True))
    assert steal(rt, LABEL_B)[0] == []  # its record says B already: another mover placed it
    assert rt.guard.state(LABEL_B).holders == {} and rt.guard.state(LABEL_A).waiters == []
    assert submits(sim) == 0


def test_a_video_job_moves_only_between_video_lanes(sim: Simulator) -> None:
    eng = build_engine(sim, KEY_A, KEY_B, capacity=2, mj_video_cap=1)
    rt = eng.rt
    lane_a, lane_b = rt.pool.lane(LABEL_A, "video"), rt.pool.lane(LABEL_B, "video")
    assert rt.guard.acquire(lane_a, "a clip").granted  # A's video lane is full
    rt.records.create("clip", RecordState.WAITING, kind="video", account=lane_a)
    rt.guard.enqueue(lane_a, "clip", line=rt.guard.book.line("default", "normal", loose=True))
    assert steal(rt, LABEL_B)[0] == []  # an image account has room, but not for a video job
    assert steal(rt, lane_b)[0] == ["clip"]
    rec = rt.records.load("clip")
    assert rec is not None and rec.account == lane_b
