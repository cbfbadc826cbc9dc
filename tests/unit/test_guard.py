"""Unit tests of the slot guard on fakeredis (Lua via lupa; its TIME is the real clock)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import fakeredis
import pytest

from worker.capacity.guard import FOLLOW_UP, FRESH, FRONT, SlotGuard
from worker.keys import Keys

A = "acct-1a2b3c4d"
B = "acct-9f8e7d6c"


@pytest.fixture
def r() -> fakeredis.FakeRedis:
    """A fresh in-memory Redis with Lua support."""
    return fakeredis.FakeRedis()


@pytest.fixture
def guard(r: fakeredis.FakeRedis) -> SlotGuard:
    """A guard with cap 2 and a long lease, so nothing expires unless a test wants it to."""
    return SlotGuard(r, default_cap=2)


def fill_up(guard: SlotGuard, label: str = A, n: int = 2) -> list[str]:
    """Grant ``n`` jobs named h0.. on ``label`` and return their ids."""
    jobs = [f"h{i}" for i in range(n)]
    for job in jobs:
        assert guard.acquire(label, job).granted
    return jobs


@pytest.mark.slow
@pytest.mark.timeout(30)
def test_thirty_two_threads_never_push_an_account_over_its_cap_and_every_job_runs(
    r: fakeredis.FakeRedis,
) -> None:
    cap, n_threads, jobs_per_thread = 10, 32, 8
    guard = SlotGuard(r, default_cap=cap)
    slots_key = guard.keys(A)[0]
    lock = threading.Lock()
    in_progress = 0
    peak = 0
    ran: set[str] = set()
    errors: list[BaseException] = []
    deadline = time.monotonic() + 15

    def worker(t: int) -> None:
        nonlocal in_progress, peak
        try:
            for k in range(jobs_per_thread):
                job = f"t{t}-j{k}"
                res = guard.acquire(A, job, priority=FRESH if k % 2 else FOLLOW_UP)
                while not res.granted:
                    assert res.queued
                    assert time.monotonic() < deadline, f"{job} starved"
                    time.sleep(0.001)
                    res = guard.acquire(A, job)  # re-entrant: granted once handed a slot
                with lock:
                    in_progress += 1
                    peak = max(peak, in_progress)
                    assert in_progress <= cap
                assert r.zcard(slots_key) <= cap
                time.sleep(0.002)  # the "remote job"
                with lock:
                    in_progress -= 1
                    ran.add(job)
                guard.release(A, job)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    started = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=20)
    assert not errors, errors[0]
    assert len(ran) == n_threads * jobs_per_thread
    assert 1 < peak <= cap
    assert time.monotonic() - started < 15
    state = guard.state(A)
    assert state.holders == {} and state.waiters == []


def test_a_lease_that_is_not_renewed_expires_and_frees_its_slot(r: fakeredis.FakeRedis) -> None:
    guard = SlotGuard(r, default_cap=1, lease_s=0.05)
    assert guard.acquire(A, "old").granted
    assert guard.acquire(A, "new").queued
    time.sleep(0.1)
    assert guard.state(A).holders == {}
    assert guard.renew(A, "old") is False
    assert guard.fill(A) == ["new"]
    assert list(guard.state(A).holders) == ["new"]


def test_an_expired_holder_acquiring_again_waits_its_turn_behind_the_queue(
    r: fakeredis.FakeRedis,
) -> None:
    guard = SlotGuard(r, default_cap=1, lease_s=0.05)
    guard.acquire(A, "old")
    guard.acquire(A, "waiter")
    time.sleep(0.1)
    res = guard.acquire(A, "old")
    assert (res.granted, res.queued, res.woken) == (False, True, ["waiter"])


def test_renew_extends_a_live_lease_and_refuses_a_non_holder(r: fakeredis.FakeRedis) -> None:
    guard = SlotGuard(r, default_cap=1, lease_s=0.2)
    guard.acquire(A, "j")
    time.sleep(0.12)
    assert guard.renew(A, "j") is True
    time.sleep(0.12)
    assert "j" in guard.state(A).holders  # would have expired without the renew
    assert guard.renew(A, "stranger") is False
    assert guard.state(A).holders.keys() == {"j"}


def test_releasing_twice_is_harmless(guard: SlotGuard) -> None:
    fill_up(guard)
    guard.acquire(A, "w1")
    guard.acquire(A, "w2")
    assert guard.release(A, "h0") == ["w1"]
    assert guard.release(A, "h0") == []
    assert guard.release(A, "never-seen") == []
    state = guard.state(A)
    assert set(state.holders) == {"h1", "w1"} and state.waiters == ["w2"]


def test_releasing_a_waiter_takes_it_out_of_the_queue(guard: SlotGuard) -> None:
    fill_up(guard)
    guard.acquire(A, "w1")
    guard.acquire(A, "w2")
    assert guard.release(A, "w1") == []
    assert guard.state(A).waiters == ["w2"]


def test_acquiring_a_held_slot_again_does_not_take_a_second_slot(guard: SlotGuard) -> None:
    for _ in range(3):
        res = guard.acquire(A, "j")
        assert (res.granted, res.queued, res.woken) == (True, False, [])
    assert list(guard.state(A).holders) == ["j"]
    assert guard.free([A]) == {A: 1}


def test_a_slot_handed_over_by_release_is_granted_on_the_next_acquire(guard: SlotGuard) -> None:
    fill_up(guard)
    assert guard.acquire(A, "w").queued
    assert guard.release(A, "h0") == ["w"]
    res = guard.acquire(A, "w")
    assert (res.granted, res.queued, res.woken) == (True, False, [])
    assert len(guard.state(A).holders) == 2


def test_release_hands_slots_to_waiters_in_fifo_order(guard: SlotGuard) -> None:
    fill_up(guard)
    for job in ["w1", "w2", "w3"]:
        assert guard.acquire(A, job).queued
    assert guard.state(A).waiters == ["w1", "w2", "w3"]
    guard.set_cap(A, 4)
    assert guard.fill(A) == ["w1", "w2"]
    assert guard.release(A, "h0") == ["w3"]


def test_a_queued_job_keeps_its_place_when_it_acquires_again(guard: SlotGuard) -> None:
    fill_up(guard)
    guard.acquire(A, "w1")
    guard.acquire(A, "w2")
    guard.acquire(A, "w1", priority=FRESH)
    guard.acquire(A, "w2", priority=FRONT)  # a later call cannot jump the queue
    assert guard.state(A).waiters == ["w1", "w2"]


def test_follow_ups_are_served_before_fresh_jobs(guard: SlotGuard) -> None:
    fill_up(guard)
    guard.acquire(A, "fresh1", priority=FRESH)
    guard.acquire(A, "follow1", priority=FOLLOW_UP)
    guard.acquire(A, "fresh2", priority=FRESH)
    guard.acquire(A, "follow2", priority=FOLLOW_UP)
    assert guard.state(A).waiters == ["follow1", "follow2", "fresh1", "fresh2"]
    assert guard.release(A, "h0") == ["follow1"]


def test_a_fresh_job_cannot_overtake_waiters_even_when_a_slot_looks_free(
    guard: SlotGuard, r: fakeredis.FakeRedis
) -> None:
    fill_up(guard)
    guard.acquire(A, "w1")
    r.zrem(guard.keys(A)[0], "h0")  # a slot freed without a fill (say, a crashed releaser)
    res = guard.acquire(A, "late")
    assert (res.granted, res.queued, res.woken) == (False, True, ["w1"])


def test_backoff_puts_the_job_first_and_blocks_grants_until_the_cooldown_ends(
    guard: SlotGuard,
) -> None:
    fill_up(guard)
    guard.acquire(A, "w1", priority=FOLLOW_UP)
    guard.backoff(A, "h0", 0.2)
    state = guard.state(A)
    assert state.waiters == ["h0", "w1"] and list(state.holders) == ["h1"]
    assert 0 < state.cooldown_ms <= 200
    res = guard.acquire(A, "late")
    assert (res.granted, res.queued) == (False, True) and 0 < res.cooldown_ms <= 200
    assert guard.fill(A) == []
    assert guard.release(A, "h1") == []
    time.sleep(0.25)
    assert guard.fill(A) == ["h0", "w1"]


def test_a_holder_acquiring_again_during_a_cooldown_keeps_its_slot(guard: SlotGuard) -> None:
    fill_up(guard)
    guard.backoff(A, "h0", 5)
    res = guard.acquire(A, "h1")
    assert (res.granted, res.queued, res.cooldown_ms) == (True, False, 0)


def test_backoff_keeps_the_longer_of_the_existing_and_new_cooldowns(guard: SlotGuard) -> None:
    guard.backoff(A, "j1", 10)
    guard.backoff(A, "j2", 0.05)
    assert guard.state(A).cooldown_ms > 9_000
    guard.backoff(A, "j3", 20)
    assert guard.state(A).cooldown_ms > 19_000


def test_two_backoffs_queue_both_jobs_ahead_of_others_in_their_own_order(
    guard: SlotGuard,
) -> None:
    fill_up(guard)
    guard.acquire(A, "w1", priority=FOLLOW_UP)
    guard.backoff(A, "h0", 0.01)
    guard.backoff(A, "h1", 0.01)
    guard.backoff(A, "h0", 0.01)  # already FRONT: keeps its place
    assert guard.state(A).waiters == ["h0", "h1", "w1"]


def test_lowering_the_cap_under_live_holders_blocks_new_grants_until_they_drop_below(
    r: fakeredis.FakeRedis,
) -> None:
    guard = SlotGuard(r, default_cap=3)
    fill_up(guard, n=3)
    guard.set_cap(A, 1)
    assert guard.cap(A) == 1
    assert guard.acquire(A, "w").queued
    assert guard.release(A, "h0") == []
    assert guard.release(A, "h1") == []
    assert guard.release(A, "h2") == ["w"]
    assert guard.free([A]) == {A: 0}


def test_raising_the_cap_lets_fill_hand_out_the_new_slots(guard: SlotGuard) -> None:
    fill_up(guard)
    guard.acquire(A, "w1")
    guard.acquire(A, "w2")
    guard.set_cap(A, 3)
    assert guard.fill(A) == ["w1"]
    guard.set_cap(A, None)
    assert guard.cap(A) == 2
    assert guard.state(A).cap == 2


def test_a_cap_of_zero_pauses_the_account(guard: SlotGuard) -> None:
    guard.set_cap(A, 0)
    assert guard.acquire(A, "j").queued
    with pytest.raises(ValueError):
        guard.set_cap(A, -1)


def test_free_reports_cap_minus_holders_minus_waiters_per_label(guard: SlotGuard) -> None:
    fill_up(guard, A)
    guard.acquire(A, "w1")
    guard.acquire(B, "b1")
    guard.set_cap("acct-big", 10)
    assert guard.free([A, B, "acct-big", "acct-empty"]) == {
        A: -1,
        B: 1,
        "acct-big": 10,
        "acct-empty": 2,
    }
    assert guard.free([]) == {}


def test_accounts_are_isolated(guard: SlotGuard) -> None:
    fill_up(guard, A)
    guard.acquire(A, "w1")
    guard.backoff(A, "h0", 5)
    guard.set_cap(A, 1)
    res = guard.acquire(B, "b1")
    assert (res.granted, res.cooldown_ms, res.woken) == (True, 0, [])
    assert guard.cap(B) == 2
    assert guard.release(B, "h1") == []
    assert "h1" in guard.state(A).holders


def test_keys_share_one_hash_tag_and_the_configured_prefix(r: fakeredis.FakeRedis) -> None:
    guard = SlotGuard(r, keys=Keys("test"))
    keys = guard.keys(A)
    assert keys == [
        f"test:{{{A}}}:{name}" for name in ["slots", "waiters", "seq", "cap", "cool", "occ"]
    ]
    guard.acquire(A, "j")
    per_account = [f"test:{{{A}}}:{name}" for name in ["loose", "tally", "held"]]
    assert guard.all_keys(A)[:9] == keys + per_account
    pool = ["tenants:usage", "tenants:busy", "lines", "roomy", "tenants:blocked"]
    assert guard.all_keys(A)[9:] == [f"test:{name}" for name in pool]
    assert set(r.keys("*")) <= {k.encode() for k in guard.all_keys(A)}


@pytest.mark.parametrize("label", ["", "a{b", "a}b", "{acct}"])
def test_a_label_that_would_break_the_hash_tag_is_rejected(guard: SlotGuard, label: str) -> None:
    with pytest.raises(ValueError, match="label"):
        guard.acquire(label, "j")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda g: g.acquire(A, ""), "job_id"),
        (lambda g: g.acquire(A, "j", priority=7), "priority"),
        (lambda g: g.backoff(A, "j", -1), "cooldown_s"),
    ],
)
def test_bad_arguments_are_rejected_before_touching_redis(
    guard: SlotGuard, r: fakeredis.FakeRedis, call: Callable[[SlotGuard], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call(guard)
    assert r.dbsize() == 0


def test_leases_list_every_holder_with_the_time_left_on_its_lease(
    r: fakeredis.FakeRedis,
) -> None:
    guard = SlotGuard(r, default_cap=3, lease_s=0.05)
    guard.acquire(A, "short")
    long_guard = SlotGuard(r, default_cap=3, lease_s=60)
    long_guard.acquire(A, "long")

    def ending_within(seconds: float) -> list[str]:
        return [job for job, ms in guard.leases([A])[A].items() if ms <= seconds * 1000]

    assert ending_within(1) == ["short"]
    time.sleep(0.1)
    assert ending_within(0) == ["short"]  # expired but not yet dropped: the pump reaps it
    assert set(ending_within(120)) == {"short", "long"}


def test_state_reports_lease_time_left_and_waiters_in_order(r: fakeredis.FakeRedis) -> None:
    guard = SlotGuard(r, default_cap=1, lease_s=10)
    guard.acquire(A, "h")
    guard.acquire(A, "w", priority=FRESH)
    guard.acquire(A, "f", priority=FOLLOW_UP)
    state = guard.state(A)
    assert state.cap == 1 and state.cooldown_ms == 0
    assert 9_000 < state.holders["h"] <= 10_000
    assert state.waiters == ["f", "w"]


def test_the_guard_works_with_a_client_that_decodes_responses() -> None:
    guard = SlotGuard(fakeredis.FakeRedis(decode_responses=True), default_cap=1)
    guard.acquire(A, "h")
    guard.acquire(A, "w")
    guard.set_cap(A, 1)
    assert guard.release(A, "h") == ["w"]
    assert guard.state(A).holders.keys() == {"w"}
    assert guard.cap(A) == 1


def test_the_slots_and_waiters_keys_hold_what_the_guard_granted_and_queued(
    r: fakeredis.FakeRedis, guard: SlotGuard
) -> None:
    keys = Keys()
    fill_up(guard)
    assert guard.acquire(A, "w0").queued
    assert sorted(x.decode() for x in r.zrange(keys.slots(A), 0, -1)) == ["h0", "h1"]
    assert [x.decode() for x in r.zrange(keys.waiters(A), 0, -1)] == ["w0"]
