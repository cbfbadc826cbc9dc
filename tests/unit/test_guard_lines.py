"""Who gets a freed place: priority class, then weighted fair share, then the line's order.

The guard on fakeredis with Lua, on a fake Redis clock (tests/support/lines.py): each job holds
its place for a while of fake time, then gives it back, and the release hands it on.
"""

from __future__ import annotations

import fakeredis
import pytest

from config.tenants import TenantSettings
from tests.support.lines import FakeClock, Queue, book_of, busy, guard_on
from worker import policy
from worker.capacity.guard import FOLLOW_UP, FRESH, FRONT, SlotGuard
from worker.capacity.tenants import TenantBook
from worker.keys import KEYS

A = "acct-lines-a"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    return FakeClock().install(monkeypatch)


@pytest.fixture
def r() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)


@pytest.fixture
def book(r: fakeredis.FakeRedis) -> TenantBook:
    return book_of(
        r,
        web=TenantSettings(weight=3),
        nightly=TenantSettings(weight=1),
        capped=TenantSettings(max_in_progress=1),
    )


@pytest.fixture
def guard(r: fakeredis.FakeRedis, book: TenantBook) -> SlotGuard:
    return guard_on(r, book, cap=1)


def occupy(guard: SlotGuard, job: str = "first") -> None:
    """Take the account's one place, so what comes next waits."""
    assert guard.acquire(A, job).granted


def serve(guard: SlotGuard, clock: FakeClock, holder: str, n: int, hold_s: float = 60) -> list[str]:
    """Let `n` jobs in turn hold the place for `hold_s` each; the order they were handed it."""
    order = []
    for _ in range(n):
        clock.advance(hold_s)
        woken = guard.release(A, holder)
        if not woken:
            break
        (holder,) = woken
        order.append(holder)
    return order


def test_a_more_urgent_class_goes_first_whatever_came_first(
    guard: SlotGuard, clock: FakeClock
) -> None:
    occupy(guard)
    q = Queue(guard, A)
    q.put("low-1", priority="low")
    q.put("normal-1")
    q.put("low-2", priority="low")
    q.put("high-1", priority="high")
    q.put("normal-2")
    assert serve(guard, clock, "first", 5) == ["high-1", "normal-1", "normal-2", "low-1", "low-2"]


def test_within_a_tenant_a_refused_job_then_follow_ups_then_first_come_first_served(
    guard: SlotGuard, clock: FakeClock
) -> None:
    occupy(guard)
    q = Queue(guard, A)
    q.put("fresh-1", "web")
    q.put("follow-1", "web", urgency=FOLLOW_UP)
    q.put("fresh-2", "web")
    q.put("refused", "web", urgency=FRONT)
    q.put("follow-2", "web", urgency=FOLLOW_UP)
    order = serve(guard, clock, "first", 5)
    assert order == ["refused", "follow-1", "follow-2", "fresh-1", "fresh-2"]


def test_a_low_follow_up_waits_behind_a_high_fresh_job(guard: SlotGuard, clock: FakeClock) -> None:
    occupy(guard)
    q = Queue(guard, A)
    q.put("low-follow-up", priority="low", urgency=FOLLOW_UP)
    q.put("high-fresh", priority="high", urgency=FRESH)
    assert serve(guard, clock, "first", 2) == ["high-fresh", "low-follow-up"]


def test_two_backlogged_tenants_share_the_places_by_their_weights(
    guard: SlotGuard, clock: FakeClock
) -> None:
    occupy(guard)
    q = Queue(guard, A)
    for i in range(300):
        q.put(f"web-{i}", "web")
        q.put(f"nightly-{i}", "nightly")
    order = serve(guard, clock, "first", 400)
    web = sum(job.startswith("web") for job in order)
    assert web / len(order) == pytest.approx(0.75, abs=0.01)
    # and steadily so: every stretch of 40 places is within one place of the share
    for i in range(0, 400, 40):
        assert abs(sum(j.startswith("web") for j in order[i : i + 40]) - 30) <= 1


def test_a_refused_job_keeps_the_head_of_its_own_tenant_and_class_only(
    r: fakeredis.FakeRedis, book: TenantBook, clock: FakeClock
) -> None:
    guard = guard_on(r, book, cap=2)
    q = Queue(guard, A)
    q.put("web-a", "web")  # a place is free: handed out by the next fill
    q.put("nightly-a", "nightly")
    assert guard.fill(A) == ["web-a", "nightly-a"]
    q.put("high-1", priority="high")
    q.put("web-b", "web")
    q.put("web-c", "web")
    assert guard.backoff(A, "web-a", 0) == 2  # refused (429): back in line, behind `high`
    assert busy(r, book, "web") == 0  # it holds no place until handed one again
    assert guard.fill(A) == ["high-1"]
    order = serve(guard, clock, "nightly-a", 2)
    assert order == ["web-a", "web-b"]  # first in its tenant's line, not ahead of high


def test_usage_decays_by_half_every_half_life(
    r: fakeredis.FakeRedis, book: TenantBook, clock: FakeClock, guard: SlotGuard
) -> None:
    occupy(guard, "nightly-0")
    q = Queue(guard, A)
    q.put("nightly-1", "nightly")
    clock.advance(100)
    guard.release(A, "nightly-0")  # nightly-0 held a place of the default tenant for 100 s
    used = float(r.hget(KEYS.pool[0], "u0") or 0)
    charged = policy.GRANT_ESTIMATE_S * 1000  # at the grant; the rest when it gave it back
    expected = charged * 2 ** (-100 / policy.SHARE_HALF_LIFE_S) + (100_000 - charged)
    assert used == pytest.approx(expected, rel=1e-9)
    before = _decayed(r, 0, clock)
    clock.advance(policy.SHARE_HALF_LIFE_S)
    assert _decayed(r, 0, clock) == pytest.approx(before / 2, rel=1e-6)
    clock.advance(24 * 3600)
    assert _decayed(r, 0, clock) < 1e-30


def _decayed(r: fakeredis.FakeRedis, bucket: int, clock: FakeClock) -> float:
    """A bucket's usage now, decayed as the guard's scripts do."""
    used = float(r.hget(KEYS.pool[0], f"u{bucket}") or 0)
    at = float(r.hget(KEYS.pool[0], f"t{bucket}") or 0)
    return used * 2 ** (-(clock.now * 1000 - at) / (policy.SHARE_HALF_LIFE_S * 1000))


def test_yesterdays_batch_does_not_count_against_today(guard: SlotGuard, clock: FakeClock) -> None:
    occupy(guard)
    q = Queue(guard, A)
    for i in range(50):
        q.put(f"nightly-{i}", "nightly")
    assert len(serve(guard, clock, "first", 50)) == 50  # last night: nightly alone, 50 hours
    clock.advance(60)
    assert guard.release(A, "nightly-49") == []
    clock.advance(24 * 3600)
    for i in range(30):
        q.put(f"web-{i}", "web")
        q.put(f"nightly-new-{i}", "nightly")
    order = guard.fill(A)
    order += serve(guard, clock, order[0], 19)
    assert sum(j.startswith("web") for j in order) == 15  # 3:1, as if nightly had never run


def test_low_is_passed_over_at_most_pass_over_max_times_in_a_row(
    guard: SlotGuard, clock: FakeClock
) -> None:
    """The written bound: on an account, a class with waiters is passed over at most
    PASS_OVER_MAX grants in a row, so `low` starts within (PASS_OVER_MAX + 1) job lengths of
    the head of its line, however many `high` jobs keep arriving."""
    occupy(guard)
    q = Queue(guard, A)
    for i in range(3):
        q.put(f"low-{i}", priority="low")
    holder, started = "first", {}
    for turn in range(3 * (policy.PASS_OVER_MAX + 1) + 5):
        q.put(f"high-{turn}", priority="high")  # one more high job for every place freed
        clock.advance(60)
        (holder,) = guard.release(A, holder)
        if holder.startswith("low"):
            started[holder] = turn
    gap = policy.PASS_OVER_MAX + 1
    assert started == {"low-0": gap - 1, "low-1": 2 * gap - 1, "low-2": 3 * gap - 1}


def test_the_position_shown_is_the_estimated_place_in_the_order_served(
    guard: SlotGuard, clock: FakeClock
) -> None:
    occupy(guard)
    q = Queue(guard, A)
    for i in range(6):
        q.put(f"web-{i}", "web")
        q.put(f"nightly-{i}", "nightly")
    assert q.put("high", priority="high") == 1
    assert q.put("low", priority="low") == 14
    # asked again (a job that waits already keeps its place), with everyone in line
    places = {job: q.put(job, q.tenants[job]) for job in q.lines}
    order = serve(guard, clock, "first", 14)
    assert order[0] == "high" and order[-1] == "low"
    assert places["high"] == 1 and places["low"] == 14
    # within the class the shares interleave: each estimate is within one place of the truth
    for job, place in places.items():
        assert abs(place - (order.index(job) + 1)) <= 1, (job, place, order)


def test_a_tenant_at_its_max_in_progress_waits_and_the_others_go_ahead(
    r: fakeredis.FakeRedis, book: TenantBook, clock: FakeClock
) -> None:
    guard = guard_on(r, book, cap=3)
    q = Queue(guard, A)
    assert q.put("capped-1", "capped") == 0
    assert guard.fill(A) == ["capped-1"]
    assert busy(r, book, "capped") == 1
    queued = guard.enqueue(A, "capped-2", line=book.line("capped", "high", loose=False))
    assert queued.capped and not queued.free  # its state says why it waits
    q.put("other", "web", priority="low")
    assert guard.fill(A) == ["other"]  # a place is free, but not for capped-2
    clock.advance(30)
    woken = guard.release(A, "capped-1")
    assert woken == ["capped-2"] and busy(r, book, "capped") == 1
    assert A in woken.unblocked  # the accounts whose waiters waited for it, to fill again


def test_a_lease_that_lapses_gives_its_tenants_place_back(
    r: fakeredis.FakeRedis, book: TenantBook, clock: FakeClock
) -> None:
    guard = guard_on(r, book, cap=2)
    q = Queue(guard, A)
    q.put("capped-1", "capped")
    q.put("capped-2", "capped")
    assert guard.fill(A) == ["capped-1"]
    clock.advance(3601)  # its holder died: the lease lapses
    assert guard.fill(A) == ["capped-2"]
    assert busy(r, book, "capped") == 1  # counted from the leases: no drift


def test_a_waiter_queued_by_the_release_before_goes_first(
    r: fakeredis.FakeRedis, guard: SlotGuard, clock: FakeClock
) -> None:
    occupy(guard)
    Queue(guard, A).put("new", priority="high")
    r.zadd(KEYS.waiters(A), {"old": 2 * 10**13 + 7})  # an older worker's FRESH waiter
    assert serve(guard, clock, "first", 2) == ["old", "new"]


def test_a_tenant_with_waiters_is_passed_over_at_most_tenant_pass_over_max_times(
    r: fakeredis.FakeRedis, clock: FakeClock
) -> None:
    """Weights far apart are served as they are up to the bound; beyond it the light tenant
    still goes once in every TENANT_PASS_OVER_MAX + 1 places of its class."""
    book = book_of(r, huge=TenantSettings(weight=1000), tiny=TenantSettings(weight=1))
    guard = guard_on(r, book, cap=1)
    occupy(guard)
    q = Queue(guard, A)
    for i in range(400):
        q.put(f"huge-{i}", "huge")
    for i in range(5):
        q.put(f"tiny-{i}", "tiny")
    order = serve(guard, clock, "first", 350)
    tiny = [i for i, job in enumerate(order) if job.startswith("tiny")]
    assert len(tiny) >= 3
    gaps = [b - a for a, b in zip([-1, *tiny], tiny, strict=False)]
    assert max(gaps) <= policy.TENANT_PASS_OVER_MAX + 1


def test_places_given_back_after_a_lapse_or_a_failover_count_against_their_tenant(
    r: fakeredis.FakeRedis, book: TenantBook, clock: FakeClock
) -> None:
    guard = guard_on(r, book, cap=3)
    line = book.line("capped", "normal", loose=True)
    assert guard.seat(A, "lapsed", clock.now, line=line)
    assert guard.restore(A, ["lost-1"], int(clock.now * 1000), lines={"lost-1": line}) == 1
    assert busy(r, book, "capped") == 2  # both hold places TTAPI counts: the cap sees them
    assert guard.enqueue(A, "next", line=line).capped
    assert guard.release(A, "lapsed") == []  # still one of its jobs at TTAPI: at its cap
    assert guard.release(A, "lost-1") == ["next"]
    assert busy(r, book, "capped") == 1


def test_a_release_writes_usage_once_and_the_grant_it_makes_sees_what_it_learned(
    r: fakeredis.FakeRedis, guard: SlotGuard, clock: FakeClock
) -> None:
    # web holds the one place 10 s; nightly, which never held one (no average of its own),
    # is handed it by the release: it is charged the average over all tenants the release
    # just learned (10 s), not the first guess.
    assert guard.acquire(A, "web-1", line=guard.book.line("web", "normal", loose=False)).granted
    Queue(guard, A).put("nightly-1", "nightly")
    clock.advance(10)
    assert guard.release(A, "web-1") == ["nightly-1"]
    usage, _, _, _, _ = KEYS.pool
    web, nightly = (guard.book.line(t, "normal", loose=False).bucket for t in ("web", "nightly"))
    stored = r.hgetall(usage)
    assert float(stored[f"a{web}"]) == float(stored["a"]) == 10000
    assert f"a{nightly}" not in stored
    line = r.hget(guard.all_keys(A)[8], "nightly-1")  # the account's `held`
    assert line.split("|")[4] == "10000"  # its charge: the average over all, as just learned
    assert float(stored[f"u{nightly}"]) == 10000
