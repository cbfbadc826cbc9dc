"""`AccountPool`: which account a new job goes to, and which labels were removed from the config."""

from __future__ import annotations

from collections import Counter

import fakeredis
import pytest

from config.settings import Account
from worker.capacity.accounts import AccountPool, NoAccountLeft
from worker.capacity.guard import SlotGuard
from worker.ttapi.client import TTAPIClient

ACCOUNTS = [
    Account.from_key(k) for k in ("sk-pool-aaaa-0001", "sk-pool-bbbb-0002", "sk-pool-cccc-0003")
]
A, B, C = (a.label for a in ACCOUNTS)
CAP = 10


def no_client(account: Account) -> TTAPIClient:
    raise AssertionError("choosing an account never needs its client")


@pytest.fixture
def r() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)


def make_pool(r: fakeredis.FakeRedis, accounts: list[Account] = ACCOUNTS) -> AccountPool:
    """One worker process's pool (processes share `r`, as they share Redis)."""
    return AccountPool(accounts, no_client, SlotGuard(r, default_cap=CAP), r, choice_fresh_s=0)


@pytest.fixture
def pool(r: fakeredis.FakeRedis) -> AccountPool:
    return make_pool(r)


def hold(pool: AccountPool, label: str, jobs: int) -> None:
    """Put `jobs` jobs on `label` (beyond its cap they wait, and count against it too)."""
    for n in range(jobs):
        pool.guard.acquire(label, f"{label}-job-{n}")


# -- most free slots ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("held", "caps", "winner"),
    [
        pytest.param({A: 3, B: 1, C: 2}, {}, B, id="fewest-jobs"),
        pytest.param({A: 0, B: 10, C: 10}, {}, A, id="the-only-one-with-room"),
        pytest.param({A: 12, B: 11, C: 13}, {}, B, id="all-full-fewest-waiters"),
        pytest.param({A: 5, B: 1, C: 1}, {A: 20}, A, id="a-higher-cap-outweighs-more-jobs"),
        pytest.param({A: 0, B: 0, C: 0}, {A: 4, B: 4}, C, id="a-lower-cap-leaves-less-room"),
    ],
)
def test_the_account_with_the_most_free_slots_wins(
    pool: AccountPool, held: dict[str, int], caps: dict[str, int], winner: str
) -> None:
    for label, cap in caps.items():
        pool.guard.set_cap(label, cap)
    for label, jobs in held.items():
        hold(pool, label, jobs)
    assert [pool.choose() for _ in range(5)] == [winner] * 5


def test_ties_take_turns_across_calls(pool: AccountPool) -> None:
    picks = [pool.choose() for _ in range(9)]
    assert Counter(picks) == {A: 3, B: 3, C: 3}
    assert len(set(picks[:3])) == 3  # every account once before any twice


def test_only_the_tied_leaders_take_turns(pool: AccountPool) -> None:
    hold(pool, B, 2)
    picks = [pool.choose() for _ in range(6)]
    assert Counter(picks) == {A: 3, C: 3}
    assert picks[0] != picks[1]


def test_turns_are_shared_by_every_process_on_the_same_redis(r: fakeredis.FakeRedis) -> None:
    one, two = make_pool(r), make_pool(r)
    picks = [one.choose(), two.choose(), one.choose()]
    assert sorted(picks) == sorted([A, B, C])


# -- out of rotation ----------------------------------------------------------------------------


def test_a_disabled_account_is_skipped_even_with_the_most_room(pool: AccountPool) -> None:
    hold(pool, A, 5)
    hold(pool, C, 5)
    pool.disable(B, 401, "Unauthorized")
    assert {pool.choose() for _ in range(6)} == {A, C}
    pool.enable(B)
    assert pool.choose() == B


def test_with_one_account_left_in_rotation_it_takes_every_job(pool: AccountPool) -> None:
    hold(pool, C, CAP + 3)  # full, with waiters: still the only one to go to
    pool.disable(A, 401, "Unauthorized")
    pool.disable(B, 402, "Insufficient balance")
    assert [pool.choose() for _ in range(3)] == [C, C, C]


def test_with_every_account_disabled_the_error_names_each_one_and_why(
    pool: AccountPool,
) -> None:
    pool.disable(A, 401, "Unauthorized")
    pool.disable(B, 402, "Insufficient balance")
    pool.disable(C, 401, "Unauthorized")
    with pytest.raises(NoAccountLeft) as caught:
        pool.choose()
    message = str(caught.value)
    for part in (
        f"{A}: 401 Unauthorized",
        f"{B}: 402 Insufficient balance",
        f"{C}: 401 Unauthorized",
    ):
        assert part in message
    assert all(a.key.get_secret_value() not in message for a in ACCOUNTS)


def test_a_pool_with_no_accounts_has_none_to_choose(r: fakeredis.FakeRedis) -> None:
    with pytest.raises(NoAccountLeft):
        make_pool(r, []).choose()


# -- removed labels -----------------------------------------------------------------------------


def test_a_label_only_an_older_process_registered_was_removed(r: fakeredis.FakeRedis) -> None:
    older, newer = make_pool(r, ACCOUNTS), make_pool(r, ACCOUNTS[:2])  # C dropped
    older.register(now=100.0)
    newer.register(now=200.0)
    assert newer.removed(C) is True
    assert newer.removed(A) is False  # configured here


def test_a_label_registered_by_a_newer_process_was_not_removed(r: fakeredis.FakeRedis) -> None:
    older, newer = make_pool(r, ACCOUNTS[:2]), make_pool(r, ACCOUNTS)  # C added
    older.register(now=100.0)
    newer.register(now=200.0)
    assert older.removed(C) is False  # a rolling deploy: the newer node serves it
    assert older.configured(C) is False


def test_a_label_no_process_ever_registered_was_removed(pool: AccountPool) -> None:
    pool.register(now=100.0)
    assert pool.removed("acct-00000000") is True


# -- one reading for a burst ---------------------------------------------------------------------


def test_a_burst_is_spread_evenly_from_one_reading_of_the_accounts(
    r: fakeredis.FakeRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = AccountPool(ACCOUNTS, no_client, SlotGuard(r, default_cap=CAP), r)
    hold(pool, A, 4)
    reads: list[list[str]] = []
    real_free = pool.guard.free
    monkeypatch.setattr(
        pool.guard, "free", lambda labels: reads.append(labels) or real_free(labels)
    )
    picks = [pool.choose() for _ in range(26)]  # nothing acquires meanwhile, as in a burst
    assert len(reads) == 1
    assert Counter(picks) == {A: 6, B: 10, C: 10}  # every account ends with 10 placed or held


def test_an_account_disabled_here_is_left_out_at_once(r: fakeredis.FakeRedis) -> None:
    pool = AccountPool(ACCOUNTS, no_client, SlotGuard(r, default_cap=CAP), r)
    pool.choose()
    pool.disable(A, 402, "Insufficient balance")
    assert A not in {pool.choose() for _ in range(10)}
