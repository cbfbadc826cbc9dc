"""What the tests of who gets a freed place share: a fake Redis clock, tenants, a guard on them.

The guard's scripts read the time with Redis `TIME`; fakeredis answers it from
`time.time()` of its server module, which `FakeClock.install` replaces (key expiries, such as
a cooldown's, still run on the real clock: these tests use none). Usage decays and leases end
on the fake clock only, so a test makes an hour pass in no time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import fakeredis
import pytest
from fakeredis.commands_mixins import server_mixin

from config.tenants import TenantSettings
from worker.capacity.guard import FRESH, SlotGuard
from worker.capacity.tenants import Line, TenantBook
from worker.keys import KEYS

T0 = 1_700_000_000.0  # the fake clock's start, seconds since the epoch


@dataclass
class FakeClock:
    """Redis's `TIME`, in seconds, moved by hand."""

    now: float = T0

    def time(self) -> float:
        """What fakeredis reads for `TIME`."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass."""
        self.now += seconds

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
        """Make fakeredis's `TIME` read this clock (undone with `monkeypatch`)."""
        monkeypatch.setattr(server_mixin, "time", self)
        return self


def book_of(client: fakeredis.FakeRedis, **tenants: TenantSettings) -> TenantBook:
    """The tenants as a process would register them."""
    return TenantBook.register(client, KEYS, tenants)


def guard_on(client: fakeredis.FakeRedis, book: TenantBook, cap: int = 1) -> SlotGuard:
    """A guard with cap `cap` and an hour's lease (the fake clock ends a lease, not the test)."""
    return SlotGuard(client, default_cap=cap, lease_s=3600, book=book)


@dataclass
class Queue:
    """Jobs put in line on one account through the guard, with what each was."""

    guard: SlotGuard
    label: str
    lines: dict[str, Line] = field(default_factory=dict)
    tenants: dict[str, str] = field(default_factory=dict)

    def put(
        self,
        job: str,
        tenant: str = "default",
        priority: str = "normal",
        urgency: int = FRESH,
        *,
        loose: bool = False,
    ) -> int:
        """Queue `job`; its estimated place (0 if a place was free for it)."""
        line = self.guard.book.line(tenant, priority, loose=loose)
        self.lines[job], self.tenants[job] = line, tenant
        queued = self.guard.enqueue(self.label, job, priority=urgency, line=line)
        return 0 if queued.free else queued.position


def busy(client: fakeredis.FakeRedis, book: TenantBook, tenant: str) -> int:
    """The tenant's jobs holding a slot, as the guard counts them."""
    value = client.hget(KEYS.pool[1], str(book.numbers[book.bucket(tenant)]))
    return int(value or 0)


__all__ = ["T0", "FakeClock", "Queue", "book_of", "busy", "guard_on"]
