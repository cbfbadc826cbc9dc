"""Polls batched per account (worker/jobs/ticks.py): one tick message fetches every due job."""

from __future__ import annotations

import time

import fakeredis
import pytest

from tests.support.engine import FAST, KEY_A, LABEL_A, account, build_engine
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.jobs.ticks import PollTicks

A = "acct-ticks"
NOW = 1_700_000_000.0


@pytest.fixture
def ticks() -> PollTicks:
    r = fakeredis.FakeRedis(decode_responses=True)
    return PollTicks(r, window_s=0.1, batch=3, grace_s=2.0)


def test_only_a_poll_due_before_the_scheduled_tick_asks_for_a_new_tick(ticks: PollTicks) -> None:
    assert ticks.schedule(A, "j1", 1, NOW + 1.0, NOW) == int((NOW + 1.0) * 1000)
    assert ticks.schedule(A, "j2", 1, NOW + 1.5, NOW) is None  # the tick at +1 s takes it on
    assert ticks.schedule(A, "j3", 1, NOW + 0.5, NOW) == int((NOW + 0.5) * 1000)
    assert ticks.schedule("acct-other", "j4", 1, NOW + 1.5, NOW) is not None  # its own tick


def test_a_tick_takes_what_is_due_within_its_window_and_schedules_the_rest(
    ticks: PollTicks,
) -> None:
    first = ticks.schedule(A, "j1", 4, NOW + 1.0, NOW)
    ticks.schedule(A, "j2", 7, NOW + 1.05, NOW)  # due within the window: taken early
    ticks.schedule(A, "j3", 2, NOW + 3.0, NOW)
    assert first is not None
    taken = ticks.take(A, first, NOW + 1.0)
    assert taken.polls == [("j1", 4), ("j2", 7)]
    assert taken.next_due_ms == int((NOW + 3.0) * 1000)
    last = ticks.take(A, taken.next_due_ms, NOW + 3.0)
    assert (last.polls, last.next_due_ms) == ([("j3", 2)], None)
    assert ticks.schedule(A, "j1", 5, NOW + 4.0, NOW + 3.0) is not None  # no tick left: a new one


def test_a_full_batch_leaves_the_rest_to_a_tick_due_at_once(ticks: PollTicks) -> None:
    due = [ticks.schedule(A, f"j{i}", 1, NOW + 1.0, NOW) for i in range(5)]
    taken = ticks.take(A, due[0] or 0, NOW + 1.2)
    assert len(taken.polls) == 3
    assert taken.next_due_ms == int((NOW + 1.2) * 1000)  # due already: another process takes it
    assert len(ticks.take(A, taken.next_due_ms, NOW + 1.2).polls) == 2


def test_a_duplicate_tick_takes_nothing_and_schedules_nothing(ticks: PollTicks) -> None:
    due = ticks.schedule(A, "j1", 1, NOW + 1.0, NOW)
    ticks.schedule(A, "j2", 1, NOW + 2.0, NOW)
    assert due is not None
    first = ticks.take(A, due, NOW + 1.0)
    assert first.polls == [("j1", 1)] and first.next_due_ms is not None
    again = ticks.take(A, due, NOW + 1.0)  # the same message, redelivered
    assert (again.polls, again.next_due_ms) == ([], None)


def test_a_lost_tick_lapses_so_the_next_poll_publishes_a_new_one() -> None:
    r = fakeredis.FakeRedis(decode_responses=True)
    ticks = PollTicks(r, window_s=0.1, batch=3, grace_s=0.05)
    now = time.time()
    assert ticks.schedule(A, "j1", 1, now, now) is not None  # its message is then lost
    assert ticks.schedule(A, "j1", 2, now + 0.01, now) is None
    time.sleep(0.1)  # past the tick's due time and grace: its key lapsed
    assert ticks.schedule(A, "j1", 3, now + 0.2, time.time()) is not None


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=3, fast_s=FAST)


def test_the_engine_with_batched_polls_ends_every_job_with_fewer_messages_than_fetches(
    sim: Simulator,
) -> None:
    eng = build_engine(sim, capacity=3, handoff=True, ticks=True)
    jobs = [eng.imagine(f"a patient heron {i}") for i in range(9)]
    assert eng.run_until(eng.all_done, 20)
    assert all(eng.result(j)["status"] == "SUCCESS" for j in jobs)
    stats = account(sim)
    assert (stats["submits"], stats["peak_in_progress"]) == (9, 3)
    fetches = sum(j["fetches"] for j in sim.stats()["jobs"].values())
    assert eng.count("poll") == 0
    assert 0 < eng.count("tick") < fetches
    assert eng.holders(LABEL_A) == 0
