"""One pool: an account whose own line is empty takes a waiter from another account's line.

`SlotGuard.steal` on fakeredis with Lua: the receiver's own line first, then the donors' loose
waiters (not pinned, not follow-ups) in the order they would be served, each taken out of its
donor's line and granted here in one script; a cooling receiver or a tenant at its cap takes
nothing; the set of accounts whose lines hold such waiters is kept as they come and go.
"""

from __future__ import annotations

import fakeredis
import pytest

from config.tenants import TenantSettings
from tests.support.lines import FakeClock, Queue, book_of, busy, guard_on
from worker.capacity.guard import SlotGuard
from worker.capacity.tenants import TenantBook
from worker.keys import KEYS

A, B, C = "acct-pool-a", "acct-pool-b", "acct-pool-c"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    return FakeClock().install(monkeypatch)


@pytest.fixture
def r() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)


@pytest.fixture
def book(r: fakeredis.FakeRedis) -> TenantBook:
    return book_of(r, web=TenantSettings(weight=3), capped=TenantSettings(max_in_progress=1))


@pytest.fixture
def guard(r: fakeredis.FakeRedis, book: TenantBook) -> SlotGuard:
    return guard_on(r, book, cap=2)


def full(guard: SlotGuard, label: str) -> None:
    """Both places of `label` held."""
    for i in range(2):
        assert guard.acquire(label, f"{label}-holder-{i}").granted


def lines(r: fakeredis.FakeRedis) -> set[str]:
    """The accounts whose lines hold a job another account may take."""
    return set(r.smembers(KEYS.pool[2]))


def test_a_free_place_takes_the_best_loose_waiter_of_another_line_in_one_script(
    r: fakeredis.FakeRedis, guard: SlotGuard, clock: FakeClock
) -> None:
    full(guard, A)
    q = Queue(guard, A)
    q.put("pinned-high", priority="high")  # pinned: stays
    q.put("loose-low", priority="low", loose=True)
    q.put("loose-normal", loose=True)
    q.put("loose-high", priority="high", loose=True)
    assert lines(r) == {A}
    own, taken = guard.steal(B, [A])
    assert own == [] and taken == [("loose-high", A), ("loose-normal", A)]
    assert set(guard.state(B).holders) == {"loose-high", "loose-normal"}
    assert guard.state(A).waiters == ["pinned-high", "loose-low"]
    assert lines(r) == {A}  # loose-low still waits there
    assert guard.steal(C, [A]) == ([], [("loose-low", A)])
    assert lines(r) == set()


def test_the_receivers_own_line_goes_first(
    r: fakeredis.FakeRedis, guard: SlotGuard, clock: FakeClock
) -> None:
    full(guard, A)
    Queue(guard, A).put("theirs", priority="high", loose=True)
    full(guard, B)
    Queue(guard, B).put("mine", priority="low")
    r.set(KEYS.guard(B)[4], "1", px=60_000)  # cooling: its releases hand nothing out
    for i in range(2):
        assert guard.release(B, f"{B}-holder-{i}") == []
    r.delete(KEYS.guard(B)[4])
    own, taken = guard.steal(B, [A])
    assert own == ["mine"] and taken == [("theirs", A)]  # its own low job before a high one


def test_a_cooling_account_or_a_tenant_at_its_cap_takes_nothing(
    r: fakeredis.FakeRedis, book: TenantBook, guard: SlotGuard, clock: FakeClock
) -> None:
    full(guard, A)
    q = Queue(guard, A)
    q.put("capped-2", "capped", loose=True)
    assert guard.acquire(C, "capped-1", line=book.line("capped", "normal", loose=True)).granted
    assert guard.steal(B, [A]) == ([], [])  # its tenant holds its one place already
    r.set(KEYS.guard(B)[4], "1", px=60_000)  # B cools down after a 429
    guard.release(C, "capped-1")
    assert guard.steal(B, [A]) == ([], [])
    r.delete(KEYS.guard(B)[4])
    assert guard.steal(B, [A]) == ([], [("capped-2", A)])
    assert busy(r, book, "capped") == 1


def test_a_taken_job_is_counted_once_and_its_donor_cannot_hand_it_a_place(
    r: fakeredis.FakeRedis, book: TenantBook, guard: SlotGuard, clock: FakeClock
) -> None:
    full(guard, A)
    Queue(guard, A).put("mover", "web", loose=True)
    assert guard.steal(B, [A]) == ([], [("mover", A)])
    guard.release(A, f"{A}-holder-0")  # the donor frees a place: nobody of its line is left
    assert "mover" not in guard.state(A).holders
    assert busy(r, book, "web") == 1
    guard.release(B, "mover")  # the receiver gives it back (its record moved elsewhere)
    assert busy(r, book, "web") == 0


def test_an_account_with_room_is_noted_and_a_release_that_leaves_room_says_so(
    r: fakeredis.FakeRedis, guard: SlotGuard, clock: FakeClock
) -> None:
    assert guard.fill(B).spare is False  # room, but no line elsewhere to take from
    assert B in r.smembers(KEYS.pool[3])
    full(guard, A)
    queued = Queue(guard, A)
    queued.put("loose", loose=True)
    found = guard.enqueue(A, "loose-2", line=guard.book.line("default", "normal", loose=True))
    assert not found.free and B in found.roomy  # ask B to fill: it would take one
    assert guard.fill(B).spare is True
    assert A not in r.smembers(KEYS.pool[3])  # A has no room


def test_a_loose_job_queued_on_a_full_account_takes_it_out_of_those_with_room(
    r: fakeredis.FakeRedis, guard: SlotGuard, clock: FakeClock
) -> None:
    full(guard, A)
    r.sadd(KEYS.pool[3], A, B)  # A noted with room before it filled up, B with room
    line = guard.book.line("default", "normal", loose=True)
    found = guard.enqueue(A, "loose-1", line=line)
    assert not found.free and found.roomy == (B,)  # never itself
    assert set(r.smembers(KEYS.pool[3])) == {B}
    found = guard.enqueue(A, "loose-2", line=line)  # A not among them: it stays out
    assert found.roomy == (B,) and set(r.smembers(KEYS.pool[3])) == {B}
    pinned = guard.enqueue(A, "pinned", line=guard.book.line("default", "normal", loose=False))
    assert pinned.roomy == () and set(r.smembers(KEYS.pool[3])) == {B}
    r.sadd(KEYS.pool[3], A)
    guard.enqueue(A, "pinned-2", line=guard.book.line("default", "normal", loose=False))
    assert set(r.smembers(KEYS.pool[3])) == {B}  # a pinned job takes A out as well
