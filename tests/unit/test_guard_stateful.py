"""Stateful property test of the slot guard against a small Python reference model.

Time: leases are long (an hour) so the real clock never expires one during a run; the ``expire``
rule makes time pass for one holder by setting its lease deadline in the past with ``ZADD``.
Cooldowns are either long (and ended by the ``cooldown_ends`` rule deleting the key) or tiny and
deleted at once, so the outcome never depends on how fast the test runs. Likewise a 499
(``occupied``) sets an hour-long probe gap and lapse: ``probe_due`` and ``lapse`` make them pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import fakeredis
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from worker.capacity.guard import FOLLOW_UP, FRESH, FRONT, SlotGuard

pytestmark = pytest.mark.slow  # a few hundred random runs: `make test`, not `make check`

LABEL = "acct-stateful"
OFFSET = 3 * 10**13  # waiter scores of this release start here (lines.lua)
NORMAL_LINE = 3 * 10**14  # the default tenant's line of the `normal` class: rank 1, bucket 0
DEFAULT_CAP = 3
JOBS = st.sampled_from([f"j{i}" for i in range(7)])
PRIORITIES = st.sampled_from([FRONT, FOLLOW_UP, FRESH])


@dataclass
class Model:
    """What the guard should hold: holders (id -> expired?), waiters as (class, seq, id)."""

    holders: dict[str, bool] = field(default_factory=dict)
    waiters: list[tuple[int, int, str]] = field(default_factory=list)
    seq: int = 0
    cap: int = DEFAULT_CAP
    cooling: bool = False
    effective: int | None = None  # the effective cap a 499 taught (None: none, or it lapsed)
    probe: str | None = None  # the outstanding probe, while it holds a slot
    probe_ready: bool = False  # the probe gap has passed

    def limit(self) -> int:
        """How many slots grants may fill."""
        return self.cap if self.effective is None else min(self.cap, self.effective)

    def probe_allowed(self) -> bool:
        """One grant above the effective cap may go now."""
        outstanding = self.probe is not None and self.probe in self.holders
        return (
            self.effective is not None
            and self.effective < self.cap
            and len(self.holders) < self.cap
            and not outstanding
            and self.probe_ready
        )

    def grant_probe(self, job: str) -> None:
        """``job`` takes the probe slot; the next probe waits a (long) gap."""
        self.holders[job] = False
        self.probe, self.probe_ready = job, False

    def queued_ids(self) -> list[str]:
        """Waiter ids in service order."""
        return [job for _, _, job in sorted(self.waiters)]

    def enqueue(self, job: str, klass: int) -> None:
        """Queue ``job`` unless it already waits (it keeps its place)."""
        if job not in self.queued_ids():
            self.seq += 1
            self.waiters.append((klass, self.seq, job))

    def drop(self, job: str) -> None:
        """Forget ``job`` as a waiter."""
        self.waiters = [w for w in self.waiters if w[2] != job]

    def fill(self) -> list[str]:
        """Drop expired leases; unless cooling, hand free slots to the head waiters."""
        self.holders = {j: e for j, e in self.holders.items() if not e}
        if self.cooling:
            return []
        woken = self.queued_ids()[: max(0, self.limit() - len(self.holders))]
        for job in woken:
            self.drop(job)
            self.holders[job] = False
        if self.probe_allowed() and self.waiters:
            head = self.queued_ids()[0]
            self.drop(head)
            self.grant_probe(head)
            woken.append(head)
        return woken


class GuardMachine(RuleBasedStateMachine):
    """Drives a SlotGuard on fakeredis and the Model side by side."""

    def __init__(self) -> None:
        super().__init__()
        self.redis = fakeredis.FakeRedis(decode_responses=True)
        self.guard = SlotGuard(self.redis, default_cap=DEFAULT_CAP, lease_s=3600)
        self.slots, self.waiters_key, _, _, self.cool, self.occ = self.guard.keys(LABEL)
        self.model = Model()

    def holder_ids(self) -> set[str]:
        """Raw members of the slots set (expired-but-not-dropped ones included)."""
        return set(cast(list[str], self.redis.zrange(self.slots, 0, -1)))

    def check_grants(self, before: set[str]) -> None:
        """A call that granted any new slot must leave the account at or under its cap, and at
        or under the effective cap plus the one outstanding probe."""
        after, m = self.holder_ids(), self.model
        if after - before:
            assert len(after) <= m.cap, (before, after, m.cap)
            probing = m.probe is not None and m.probe in after
            assert len(after) <= m.limit() + probing, (before, after, m)

    def check_filled(self) -> None:
        """After a fill outside a cooldown, nobody waits while a slot under the limit is free."""
        if not self.model.cooling and len(self.holder_ids()) < self.model.limit():
            assert self.redis.zcard(self.waiters_key) == 0

    @rule(job=JOBS, priority=PRIORITIES)
    def acquire(self, job: str, priority: int) -> None:
        before = self.holder_ids()
        res = self.guard.acquire(LABEL, job, priority=priority)
        m = self.model
        m.holders = {j: e for j, e in m.holders.items() if not e}
        holds = job in m.holders
        woken = m.fill()
        if job in woken:
            holds = True
            woken.remove(job)
        if holds:
            expected = (True, False)
        elif not m.cooling and len(m.holders) < m.limit() and not m.waiters:
            m.holders[job] = False
            expected = (True, False)
        elif not m.cooling and not m.waiters and m.probe_allowed():
            m.grant_probe(job)
            expected = (True, False)
        else:
            m.enqueue(job, priority)
            expected = (False, True)
        assert (res.granted, res.queued) == expected
        assert res.woken == woken
        assert (res.cooldown_ms > 0) == (m.cooling and not res.granted)
        self.check_grants(before)
        self.check_filled()

    @rule(job=JOBS, confirms=st.booleans())
    def renew(self, job: str, confirms: bool) -> None:
        m = self.model
        live = job in m.holders and not m.holders[job]
        assert self.guard.renew(LABEL, job, confirms=confirms) is live
        if live and confirms and job == m.probe and m.effective is not None:
            m.effective, m.probe, m.probe_ready = m.effective + 1, None, True

    @rule(job=JOBS)
    def release(self, job: str) -> None:
        before = self.holder_ids()
        woken = self.guard.release(LABEL, job)
        self.model.holders.pop(job, None)
        self.model.drop(job)
        if job == self.model.probe:
            self.model.probe = None
        assert woken == self.model.fill()
        self.check_grants(before)
        self.check_filled()

    @precondition(lambda self: any(not e for e in self.model.holders.values()))
    @rule(data=st.data())
    def expire(self, data: st.DataObject) -> None:
        """Make time pass for one holder: its deadline moves to the past (1 ms after epoch)."""
        live = sorted(j for j, e in self.model.holders.items() if not e)
        job = data.draw(st.sampled_from(live))
        self.redis.zadd(self.slots, {job: 1}, xx=True)
        self.model.holders[job] = True

    @rule(job=JOBS, keep_cooling=st.booleans())
    def backoff(self, job: str, keep_cooling: bool) -> None:
        m = self.model
        self.guard.backoff(LABEL, job, 60 if keep_cooling else 0.001)
        if not keep_cooling and not m.cooling:
            self.redis.delete(self.cool)  # the tiny cooldown is over; a long one is kept
        m.cooling = m.cooling or keep_cooling
        if job == m.probe:
            m.probe = None
        self.requeue(job)

    def requeue(self, job: str) -> None:
        """The refused job loses its slot and waits first in line (FRONT, keeping its place)."""
        m = self.model
        m.holders.pop(job, None)
        if any(w[2] == job and w[0] != FRONT for w in m.waiters):
            m.drop(job)
        m.enqueue(job, FRONT)

    @rule(job=JOBS)
    def occupied(self, job: str) -> None:
        """A 499: the live slots we still hold become the effective cap."""
        self.guard.occupied(LABEL, job, probe_every_s=3600, lapse_s=3600)
        m = self.model
        m.holders.pop(job, None)
        m.holders = {j: e for j, e in m.holders.items() if not e}
        m.effective, m.probe, m.probe_ready = len(m.holders), None, False
        self.requeue(job)

    @rule(job=JOBS)
    def unresolved(self, job: str) -> None:
        """A holder ended for us but may still run at TTAPI: one place fewer, as occupancy."""
        before = self.holder_ids()
        woken = self.guard.unresolved(LABEL, job, probe_every_s=3600, lapse_s=3600)
        m = self.model
        m.holders = {j: e for j, e in m.holders.items() if not e}
        if job not in m.holders:
            assert woken == []
            return
        m.holders.pop(job)
        m.drop(job)
        m.effective = max(min(m.cap if m.effective is None else m.effective, m.cap) - 1, 0)
        m.probe_ready = False
        if job == m.probe:
            m.probe = None
        assert woken == m.fill()
        self.check_grants(before)
        self.check_filled()

    @precondition(lambda self: self.model.effective is not None)
    @rule()
    def probe_due(self) -> None:
        """The probe gap passes."""
        self.redis.hset(self.occ, "next", 0)
        self.model.probe_ready = True

    @rule()
    def lapse(self) -> None:
        """No 499 for a job's duration: the effective cap lapses."""
        self.redis.delete(self.occ)
        self.model.effective, self.model.probe, self.model.probe_ready = None, None, False

    @rule()
    def cooldown_ends(self) -> None:
        self.redis.delete(self.cool)
        self.model.cooling = False

    @rule()
    def fill(self) -> None:
        before = self.holder_ids()
        assert self.guard.fill(LABEL) == self.model.fill()
        self.check_grants(before)
        self.check_filled()

    @rule(cap=st.one_of(st.none(), st.integers(min_value=0, max_value=5)))
    def set_cap(self, cap: int | None) -> None:
        self.guard.set_cap(LABEL, cap)
        self.model.cap = DEFAULT_CAP if cap is None else cap

    @invariant()
    def matches_the_model(self) -> None:
        state = self.guard.state(LABEL)
        m = self.model
        assert state.cap == m.cap
        assert set(state.holders) == {j for j, e in m.holders.items() if not e}
        assert self.holder_ids() == set(m.holders)
        assert state.waiters == m.queued_ids()
        assert (state.cooldown_ms > 0) == m.cooling
        assert state.effective_cap == m.effective
        free = m.limit() - len(state.holders) - len(m.waiters)
        assert self.guard.free([LABEL]) == {LABEL: free}

    @invariant()
    def the_one_probe_is_the_models(self) -> None:
        assert self.redis.hget(self.occ, "probe") == self.model.probe

    @invariant()
    def no_job_is_both_holder_and_waiter(self) -> None:
        assert not self.holder_ids() & set(self.guard.state(LABEL).waiters)

    @invariant()
    def waiters_are_fifo_within_a_class(self) -> None:
        scored = cast(
            list[tuple[str, float]], self.redis.zrange(self.waiters_key, 0, -1, withscores=True)
        )
        # One tenant, one priority class: a score is OFFSET + line + urgency * 1e11 + seq.
        within = [int(score) - OFFSET - NORMAL_LINE for _, score in scored]
        order = [(x // 10**11, x % 10**11) for x in within]
        assert order == sorted(order)
        by_id = {job: (klass, seq) for klass, seq, job in self.model.waiters}
        for member, (klass, _) in zip(scored, order, strict=True):
            assert by_id[member[0]][0] == klass
        seqs = [[s for k, s in order if k == klass] for klass in (FRONT, FOLLOW_UP, FRESH)]
        assert all(s == sorted(s) for s in seqs)


GuardMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
TestGuardStateful = GuardMachine.TestCase
