"""The guard on a key another client also uses (fakeredis with Lua; its TIME is the real clock).

A 499 teaches the *effective cap* (the slots we still hold); grants stop there, and one probe
above it goes out at most once a gap. Gaps and lapses are long (a minute) unless a test waits
for one to pass, so the outcome never depends on how fast the test runs.
"""

from __future__ import annotations

import time

import fakeredis
import pytest

from worker.capacity.guard import SlotGuard
from worker.jobs.refusals import probe_timing
from worker.keys import KEYS

A = "acct-occupied"
LONG = 60.0


@pytest.fixture
def guard() -> SlotGuard:
    """A guard with cap 4 and a long lease."""
    return SlotGuard(fakeredis.FakeRedis(decode_responses=True), default_cap=4)


def hold(guard: SlotGuard, *jobs: str) -> None:
    """Grant each job a slot (they must all get one)."""
    for job in jobs:
        assert guard.acquire(A, job).granted, job


def queue(guard: SlotGuard, *jobs: str) -> None:
    """Queue each job (none may get a slot)."""
    for job in jobs:
        assert guard.acquire(A, job).queued, job


def test_a_499_makes_the_slots_we_still_hold_the_effective_cap(guard: SlotGuard) -> None:
    hold(guard, "h0", "h1", "h2")
    place = guard.occupied(A, "h2", probe_every_s=LONG, lapse_s=LONG)
    assert place == 1
    state = guard.state(A)
    assert (state.effective_cap, state.cooldown_ms, sorted(state.holders)) == (2, 0, ["h0", "h1"])
    queue(guard, "w")  # two of four held, yet nothing more goes: TTAPI would say 499 again
    assert guard.fill(A) == []
    assert guard.free([A]) == {A: 2 - 2 - 2}
    assert guard.release(A, "h0") == ["h2"]  # our own slot is ours: handed on at once


def test_a_probe_goes_once_the_gap_has_passed_and_not_before(guard: SlotGuard) -> None:
    hold(guard, "h0")
    guard.occupied(A, "r", probe_every_s=0.3, lapse_s=LONG)
    queue(guard, "w1", "w2")
    assert guard.fill(A) == []
    time.sleep(0.35)
    assert guard.fill(A) == ["r"]  # the refused job, first in line, is the probe
    assert guard.fill(A) == []  # one probe at a time
    assert guard.state(A).effective_cap == 1


def test_a_probe_that_ttapi_accepts_raises_the_effective_cap_and_the_next_may_go_at_once(
    guard: SlotGuard,
) -> None:
    hold(guard, "h0")
    guard.occupied(A, "r", probe_every_s=0.2, lapse_s=LONG)
    time.sleep(0.25)
    assert guard.fill(A) == ["r"]
    assert guard.renew(A, "r")  # the submit was accepted
    assert guard.state(A).effective_cap == 2
    assert guard.acquire(A, "p2").granted  # the next probe, without waiting a gap
    assert guard.acquire(A, "p3").queued
    assert guard.state(A).effective_cap == 2


def test_a_499_on_the_probe_keeps_the_effective_cap_and_restarts_the_gap(
    guard: SlotGuard,
) -> None:
    hold(guard, "h0", "h1")
    guard.occupied(A, "r", probe_every_s=0.2, lapse_s=LONG)
    time.sleep(0.25)
    assert guard.fill(A) == ["r"]
    guard.occupied(A, "r", probe_every_s=0.2, lapse_s=LONG)
    assert guard.state(A).effective_cap == 2
    assert guard.fill(A) == []
    time.sleep(0.25)
    assert guard.fill(A) == ["r"]


@pytest.mark.slow
def test_probes_go_no_more_often_than_the_gap(guard: SlotGuard) -> None:
    gap, window = 0.1, 1.0
    guard.occupied(A, "r", probe_every_s=gap, lapse_s=LONG)  # nothing of ours runs: cap 0
    probes = 0
    started = time.monotonic()
    while time.monotonic() - started < window:
        for job in guard.fill(A):
            probes += 1
            guard.occupied(A, job, probe_every_s=gap, lapse_s=LONG)  # TTAPI: still full
        time.sleep(0.005)
    assert 1 <= probes <= window / gap + 1


def test_renewals_that_are_not_the_probes_answer_do_not_raise_the_effective_cap(
    guard: SlotGuard,
) -> None:
    hold(guard, "h0")
    guard.occupied(A, "r", probe_every_s=0.1, lapse_s=LONG)
    time.sleep(0.15)
    assert guard.fill(A) == ["r"]
    assert guard.renew(A, "r", confirms=False)  # the pump, the submit still unanswered
    assert guard.renew(A, "h0")  # a job that is no probe
    assert guard.hold(A, "r", 5.0)
    assert guard.state(A).effective_cap == 1


def test_a_probe_released_unanswered_teaches_nothing_and_the_next_waits_its_gap(
    guard: SlotGuard,
) -> None:
    hold(guard, "h0")
    guard.occupied(A, "r", probe_every_s=0.3, lapse_s=LONG)
    queue(guard, "w")
    time.sleep(0.35)
    assert guard.fill(A) == ["r"]
    assert guard.release(A, "r") == []  # failed with a 400, say: not a probe's answer
    assert guard.state(A).effective_cap == 1
    time.sleep(0.35)
    assert guard.fill(A) == ["w"]


def test_without_another_499_the_effective_cap_lapses_to_the_full_cap(guard: SlotGuard) -> None:
    hold(guard, "h0", "h1")
    guard.occupied(A, "h1", probe_every_s=LONG, lapse_s=0.2)
    queue(guard, "w1", "w2")
    assert guard.fill(A) == []
    time.sleep(0.25)
    assert guard.state(A).effective_cap is None
    assert guard.fill(A) == ["h1", "w1", "w2"]


def test_a_429_cools_down_but_teaches_no_effective_cap(guard: SlotGuard) -> None:
    hold(guard, "h0", "h1")
    guard.backoff(A, "h1", LONG)
    state = guard.state(A)
    assert state.effective_cap is None and state.cooldown_ms > 0


def test_a_429_on_the_probe_keeps_the_effective_cap_and_frees_the_probe(
    guard: SlotGuard,
) -> None:
    hold(guard, "h0")
    guard.occupied(A, "r", probe_every_s=0.1, lapse_s=LONG)
    time.sleep(0.15)
    assert guard.fill(A) == ["r"]
    guard.backoff(A, "r", 0.001)
    assert guard.state(A).effective_cap == 1
    time.sleep(0.15)
    assert guard.fill(A) == ["r"]  # no longer outstanding: it goes again a gap after it went


@pytest.mark.parametrize(
    ("expected", "gap", "lapse"),
    [(60.0, 6.0, 60.0), (2.0, 0.2, 2.0), (0.1, 0.05, 0.1), (600.0, 30.0, 600.0)],
)
def test_probes_come_a_tenth_of_a_job_apart_within_bounds(
    expected: float, gap: float, lapse: float
) -> None:
    assert probe_timing(expected, 0.05) == pytest.approx((gap, lapse))


def test_an_accepted_probe_raises_the_cap_and_lets_the_next_probe_go_at_once(
    guard: SlotGuard,
) -> None:
    hold(guard, "h0")
    guard.occupied(A, "r", probe_every_s=0.2, lapse_s=LONG)
    queue(guard, "w1")
    time.sleep(0.25)
    assert guard.fill(A) == ["r"]
    assert guard.accepted(A, "h0") is False  # not the probe: nothing learned
    assert guard.accepted(A, "r") is True
    assert guard.state(A).effective_cap == 2
    assert guard.fill(A) == ["w1"]  # the next probe, without waiting out a gap
    assert guard.accepted(A, "r") is False  # counted once


def test_an_accepted_submit_ends_the_429_streak(guard: SlotGuard) -> None:
    r = guard._redis
    r.set(KEYS.refusals(A), 3)
    hold(guard, "h0")
    guard.accepted(A, "h0")
    assert r.get(KEYS.refusals(A)) is None


def test_an_unresolved_job_gives_its_slot_up_as_occupancy_one_place_fewer(
    guard: SlotGuard,
) -> None:
    hold(guard, "h0", "h1", "lost")
    assert guard.unresolved(A, "lost", probe_every_s=LONG, lapse_s=LONG) == []
    state = guard.state(A)
    assert (sorted(state.holders), state.effective_cap) == (["h0", "h1"], 3)
    hold(guard, "w1")
    queue(guard, "w2")  # three of four: the lost job may still hold the fourth
    assert guard.fill(A) == []


def test_a_probe_accepted_after_an_unresolved_job_gives_its_place_back(guard: SlotGuard) -> None:
    hold(guard, "h0", "h1", "h2", "lost")
    guard.unresolved(A, "lost", probe_every_s=0.2, lapse_s=LONG)
    queue(guard, "w1", "w2")
    assert guard.fill(A) == []  # 3 held of an effective 3
    time.sleep(0.25)
    assert guard.fill(A) == ["w1"]  # the probe for the lost job's place
    assert guard.accepted(A, "w1")  # TTAPI had room: the lost job is gone
    assert guard.state(A).effective_cap == 4
    assert guard.release(A, "h0") == ["w2"]


def test_unresolved_jobs_add_up_and_lapse_after_their_longest_life(guard: SlotGuard) -> None:
    hold(guard, "h0", "lost1", "lost2")
    guard.unresolved(A, "lost1", probe_every_s=LONG, lapse_s=0.3)
    guard.unresolved(A, "lost2", probe_every_s=LONG, lapse_s=0.3)
    assert guard.state(A).effective_cap == 2
    assert guard.unresolved(A, "lost2", probe_every_s=LONG, lapse_s=0.3) == []  # once only
    assert guard.state(A).effective_cap == 2
    time.sleep(0.35)
    assert guard.state(A).effective_cap is None  # TTAPI has ended them by now, whatever they were
