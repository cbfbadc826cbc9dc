"""Tenants as the slot guard sees them: a small number each, a weight and a cap, and the line a
waiter stands in.

A tenant named in `MJ_TENANTS` is a *bucket* of its own; every other tenant is counted in the
`"default"` bucket (one share, one `max_in_progress`, one `daily_jobs`, one metric label), so
what Redis and `/metrics` keep per tenant stays bounded by the configuration, whatever names
callers send. Each bucket has a small number, the same in every process (a registry in Redis),
that waiter scores carry: one tenant's waiters of one priority class are one range of scores
(see `worker/lua/capacity/guard/lines.lua`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from config.tenants import DEFAULT_TENANT, PRIORITIES, TenantSettings
from worker import policy
from worker.keys import Keys
from worker.lua import script
from worker.text import text

# KEYS: the registry hash.  ARGV: bucket names.  Their numbers, in order (new ones get the next).
_REGISTER = script("capacity/tenants/register.lua")


@dataclass(frozen=True)
class Line:
    """Where a waiter stands: its tenant's bucket number, its priority class's rank (0 high,
    1 normal, 2 low), and whether another account may take it (`loose`: not pinned to an
    account, not a follow-up)."""

    bucket: int = 0
    rank: int = 1
    loose: bool = False


class TenantBook:
    """The buckets this process knows (`MJ_TENANTS` and `default`), their numbers and settings;
    `conf` is what the guard's scripts are handed of them (JSON)."""

    def __init__(
        self,
        tenants: Mapping[str, TenantSettings] | None = None,
        numbers: Mapping[str, int] | None = None,
    ) -> None:
        self.tenants = dict(tenants or {})
        self.numbers = {DEFAULT_TENANT: 0, **(numbers or {})}
        self.names = {n: name for name, n in self.numbers.items()}
        weights = {
            str(n): [self.settings(name).weight, self.settings(name).max_in_progress or 0]
            for name, n in self.numbers.items()
        }
        self.conf = json.dumps(
            {
                "h": round(policy.SHARE_HALF_LIFE_S * 1000),
                "n": policy.PASS_OVER_MAX,
                "m": policy.TENANT_PASS_OVER_MAX,
                "e": round(policy.GRANT_ESTIMATE_S * 1000),
                "k": policy.HELD_AVERAGE_WEIGHT,
                "w": weights,
            },
            separators=(",", ":"),
        )

    @classmethod
    def register(cls, client: Any, keys: Keys, tenants: Mapping[str, TenantSettings]) -> TenantBook:
        """The book of `tenants`, each numbered in Redis's registry (one round trip)."""
        names = sorted(name for name in tenants if name != DEFAULT_TENANT)
        if not names:
            return cls(tenants)
        found = client.register_script(_REGISTER)(keys=[keys.tenant_index], args=names)
        numbers = dict(zip(names, (int(n) for n in found), strict=True))
        if max(numbers.values()) > policy.TENANT_BUCKETS_MAX:
            raise ValueError(
                f"more than {policy.TENANT_BUCKETS_MAX} tenants were ever named in MJ_TENANTS "
                f"(Redis key {keys.tenant_index}): reuse names, or delete that key while idle"
            )
        return cls(tenants, numbers)

    def settings(self, name: str) -> TenantSettings:
        """A bucket's settings: its own entry, else `default`'s, else the defaults."""
        return self.tenants.get(name) or self.tenants.get(DEFAULT_TENANT) or TenantSettings()

    def bucket(self, tenant: str) -> str:
        """The bucket a tenant is counted in: its own when named in `MJ_TENANTS`, else
        `default`."""
        return tenant if tenant in self.numbers else DEFAULT_TENANT

    def line(self, tenant: str, priority: str, *, loose: bool) -> Line:
        """The line a job of `tenant` at `priority` waits in."""
        rank = PRIORITIES.index(priority) if priority in PRIORITIES else 1
        return Line(self.numbers[self.bucket(tenant)], rank, loose)


def names_of(client: Any, keys: Keys) -> dict[int, str]:
    """Every bucket number ever registered, with its name (`default` is 0)."""
    raw = client.hgetall(keys.tenant_index)
    out = {0: DEFAULT_TENANT}
    for name, n in raw.items():
        if text(name) != "~next":
            out[int(n)] = text(name)
    return out


def in_progress(client: Any, keys: Keys) -> dict[int, int]:
    """Per bucket number, its jobs holding a slot on any account now."""
    return {int(text(b)): int(n) for b, n in client.hgetall(keys.pool[1]).items() if int(n) > 0}


def waiting(client: Any, keys: Keys, labels: list[str]) -> dict[int, int]:
    """Per bucket number, its jobs waiting in the lines of `labels` (one round trip)."""
    pipe = client.pipeline(transaction=False)
    for label in labels:
        pipe.hgetall(keys.guard_lines(label)[1])
    out: dict[int, int] = {}
    for tally in pipe.execute() if labels else []:
        for field, n in tally.items():
            rank, _, bucket = text(field).partition(":")
            if rank.isdigit() and bucket.isdigit():
                out[int(bucket)] = out.get(int(bucket), 0) + int(n)
    return out


__all__ = ["Line", "TenantBook", "in_progress", "names_of", "waiting"]
