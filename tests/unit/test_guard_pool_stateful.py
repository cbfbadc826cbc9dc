"""Stateful property test of the pool: caps per account and per tenant, moves, revokes.

Three accounts of two places each; jobs of three tenants (one with max_in_progress 2) queue
pinned or loose, places are freed, revoked, refused and lapse, idle accounts take waiters from
the others' lines. Whatever the order, the guard must keep:

- at most `cap` holders per account, at most max_in_progress holders of a tenant, across all
  accounts, counted from the leases that know their tenant (no drift when one lapses);
- every job in one place at most (a slot or a line, of one account), and every job handed a
  place or taken reported once, where the guard says it is;
- its indexes true: waiters per line, the loose lines, the set of accounts with loose waiters;
- a fill leaves no waiter that could go while its account has a place free.
"""

from __future__ import annotations

from typing import cast

import fakeredis
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from config.tenants import TenantSettings
from tests.support.lines import T0
from worker.capacity.guard import FRESH, FRONT, SlotGuard
from worker.capacity.tenants import TenantBook
from worker.keys import KEYS

pytestmark = pytest.mark.slow

ACCOUNTS = ["acct-s-a", "acct-s-b", "acct-s-c"]
CAP, TENANT_CAP = 2, 2
JOBS = st.sampled_from([f"j{i}" for i in range(10)])
LABELS = st.sampled_from(ACCOUNTS)
TENANTS = st.sampled_from(["capped", "web", "stray"])
OFFSET = 3 * 10**13


class PoolMachine(RuleBasedStateMachine):
    """The guard on fakeredis, and where each job is by what the guard reported."""

    def __init__(self) -> None:
        super().__init__()
        self.redis = fakeredis.FakeRedis(decode_responses=True)
        tenants = {"capped": TenantSettings(max_in_progress=TENANT_CAP), "web": TenantSettings()}
        self.book = TenantBook.register(self.redis, KEYS, tenants)
        self.guard = SlotGuard(self.redis, default_cap=CAP, lease_s=3600, book=self.book)
        self.where: dict[str, tuple[str, str]] = {}  # job -> ("slot" | "line", account)
        self.tenant: dict[str, str] = {}

    def handed(self, label: str, ids: list[str]) -> None:
        for job in ids:
            assert self.where.get(job) == ("line", label), (job, self.where.get(job), label)
            self.where[job] = ("slot", label)

    @rule(
        job=JOBS,
        label=LABELS,
        tenant=TENANTS,
        rank=st.sampled_from(["high", "low"]),
        loose=st.booleans(),
    )
    def put(self, job: str, label: str, tenant: str, rank: str, loose: bool) -> None:
        if job in self.where:
            return
        line = self.book.line(tenant, rank, loose=loose)
        queued = self.guard.enqueue(label, job, priority=FRESH, line=line)
        assert not queued.holds
        self.where[job], self.tenant[job] = ("line", label), tenant

    @rule(label=LABELS)
    def fill(self, label: str) -> None:
        self.handed(label, self.guard.fill(label))
        self.check_filled(label)

    @rule(job=JOBS)
    def release_or_revoke(self, job: str) -> None:
        place = self.where.pop(job, None)
        if place is None:
            return
        woken = self.guard.release(place[1], job)
        self.handed(place[1], woken)
        self.check_filled(place[1])

    @rule(label=LABELS)
    def steal(self, label: str) -> None:
        donors = [d for d in ACCOUNTS if d != label]
        own, taken = self.guard.steal(label, donors)
        self.handed(label, own)
        for job, donor in taken:
            assert self.where.get(job) == ("line", donor), (job, donor)
            assert self.redis.zscore(KEYS.guard_lines(donor)[0], job) is None
            self.where[job] = ("slot", label)
        self.check_filled(label)

    @rule(job=JOBS)
    def refused(self, job: str) -> None:
        place = self.where.get(job)
        if place is None or place[0] != "slot":
            return
        self.guard.backoff(place[1], job, 0)  # a 429 without cooldown: back in line, first
        self.where[job] = ("line", place[1])
        score = self.redis.zscore(KEYS.waiters(place[1]), job)
        assert score is not None and (int(score) - OFFSET) // 10**11 % 3 == FRONT

    @rule(job=JOBS)
    def lapse(self, job: str) -> None:
        """Its holder died: the lease is past its deadline (dropped by the next script)."""
        place = self.where.get(job)
        if place is None or place[0] != "slot":
            return
        self.redis.zadd(KEYS.slots(place[1]), {job: 1}, xx=True)
        del self.where[job]
        self.handed(place[1], self.guard.fill(place[1]))  # drops it, hands its place on

    def check_filled(self, label: str) -> None:
        """No waiter that may go is left while `label` has a place free."""
        holders = self.redis.zcard(KEYS.slots(label))
        if holders >= CAP:
            return
        for job in cast(list[str], self.redis.zrange(KEYS.waiters(label), 0, -1)):
            assert self.tenant[job] == "capped" and self.busy("capped") >= TENANT_CAP, job

    def busy(self, tenant: str) -> int:
        bucket = self.book.numbers[self.book.bucket(tenant)]
        return int(self.redis.hget(KEYS.pool[1], str(bucket)) or 0)

    @invariant()
    def caps_hold_per_account_and_per_tenant(self) -> None:
        for label in ACCOUNTS:
            assert self.redis.zcard(KEYS.slots(label)) <= CAP
        counted: dict[str, int] = {}
        for job, (kind, _) in self.where.items():
            if kind == "slot":
                bucket = self.book.bucket(self.tenant[job])
                counted[bucket] = counted.get(bucket, 0) + 1
        for bucket in ("capped", "web", "default"):
            assert self.busy(bucket) == counted.get(bucket, 0), bucket
        assert counted.get("capped", 0) <= TENANT_CAP

    @invariant()
    def every_job_is_where_the_guard_said(self) -> None:
        for label in ACCOUNTS:
            slots = set(cast(list[str], self.redis.zrange(KEYS.slots(label), 0, -1)))
            line = set(cast(list[str], self.redis.zrange(KEYS.waiters(label), 0, -1)))
            held = set(cast(list[str], self.redis.hkeys(KEYS.guard_lines(label)[2])))
            assert slots == {j for j, p in self.where.items() if p == ("slot", label)}
            assert line == {j for j, p in self.where.items() if p == ("line", label)}
            assert held == slots

    @invariant()
    def the_indexes_are_true(self) -> None:
        with_loose = set()
        for label in ACCOUNTS:
            loose_key, tally_key, _ = KEYS.guard_lines(label)
            scores = dict(self.redis.zrange(KEYS.waiters(label), 0, -1, withscores=True))
            loose = dict(self.redis.zrange(loose_key, 0, -1, withscores=True))
            assert loose.items() <= scores.items()
            if loose:
                with_loose.add(label)
            counts: dict[str, int] = {}
            for score in scores.values():
                rank, rest = divmod(int(score) - OFFSET, 3 * 10**14)
                field = f"{rank}:{rest // (3 * 10**11)}"
                counts[field] = counts.get(field, 0) + 1
            tally = self.redis.hgetall(tally_key)
            assert {k: int(v) for k, v in tally.items() if ":" in k and k[0].isdigit()} == counts
        assert set(self.redis.smembers(KEYS.pool[2])) == with_loose


@pytest.fixture(autouse=True)
def fake_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A still Redis clock: leases end only when a rule says so."""
    from fakeredis.commands_mixins import server_mixin

    class Still:
        @staticmethod
        def time() -> float:
            return T0

    monkeypatch.setattr(server_mixin, "time", Still)


PoolMachine.TestCase.settings = settings(max_examples=80, stateful_step_count=50, deadline=None)
TestPoolStateful = PoolMachine.TestCase
