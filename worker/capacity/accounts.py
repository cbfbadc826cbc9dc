"""The accounts in rotation: which one a new job goes to, and which are out (401/402).

A new imagine/blend/describe goes to the enabled account with the most free slots (ties take
turns through a shared Redis counter; each process re-reads the accounts at most every
`CHOICE_FRESH_S`). An account that answered 401 or 402 is taken out of
rotation for a while, with one clear log line; `/info` brings a 402 account back once its
balance returns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from config.settings import Account
from worker.capacity.guard import SlotGuard
from worker.keys import DISABLE_S, KEYS, Keys
from worker.text import text
from worker.ttapi.client import TTAPIClient
from worker.ttapi.errors import InvalidRequest

log = logging.getLogger(__name__)


# How long a process places new jobs from one reading of every account's free slots.
CHOICE_FRESH_S = 0.5


class NoAccountLeft(RuntimeError):
    """Every configured account is out of rotation."""


class AccountPool:
    """Configured accounts with their clients (built lazily, one per process) and rotation."""

    def __init__(
        self,
        accounts: list[Account],
        client_factory: Callable[[Account], TTAPIClient],
        guard: SlotGuard,
        redis_client: redis.Redis,
        *,
        keys: Keys = KEYS,
        choice_fresh_s: float = CHOICE_FRESH_S,
    ) -> None:
        self.accounts = {a.label: a for a in accounts}
        self._factory = client_factory
        self._clients: dict[str, TTAPIClient] = {}
        self.guard = guard
        self.redis = redis_client
        self.keys = keys
        self._registry = keys.labels
        self.started_at = 0.0
        self._choice_fresh_s = choice_fresh_s
        self._free: dict[str, int] | None = None  # free slots as last read, minus jobs placed
        self._free_at = 0.0

    @property
    def labels(self) -> list[str]:
        """Every configured label, in configuration order."""
        return list(self.accounts)

    def configured(self, label: str) -> bool:
        """Whether `label` is one of this process's configured accounts."""
        return label in self.accounts

    def register(self, now: float) -> None:
        """Note that a process started now with these accounts (see `removed`)."""
        self.started_at = now
        if self.accounts:
            self.redis.hset(self._registry, mapping={label: now for label in self.accounts})

    def removed(self, label: str) -> bool:
        """True when `label` was dropped from the configuration, not just unknown here.

        Every process registers its labels when it starts. A label unknown here that no process
        has registered since this one started belongs to an older configuration: its key was
        removed. One registered later is a key added by a newer node (a rolling deploy), which
        that node can still serve.
        """
        if self.configured(label):
            return False
        seen = self.redis.hget(self._registry, label)
        return seen is None or float(seen) < self.started_at

    def client(self, label: str) -> TTAPIClient:
        """The TTAPI client of one account (created on first use)."""
        if label not in self._clients:
            self._clients[label] = self._factory(self._account(label))
        return self._clients[label]

    def _account(self, label: str) -> Account:
        if label not in self.accounts:
            known = ", ".join(self.accounts) or "none"
            raise InvalidRequest(f"account: unknown account {label!r} (configured: {known})")
        return self.accounts[label]

    def check(self, label: str) -> str:
        """`label` if it is configured, else InvalidRequest naming the configured ones."""
        self._account(label)
        return label

    def _disabled_key(self, label: str) -> str:
        return self.keys.disabled(label)

    def disable(self, label: str, status: int, reason: str) -> None:
        """Take an account out of rotation after a 401/402 (logged once, expires by itself)."""
        self._free = None  # choose again without it at once
        ttl = DISABLE_S.get(status, 600)
        if self.redis.set(self._disabled_key(label), f"{status} {reason}", ex=ttl, nx=True):
            log.error(
                "account %s taken out of rotation for %ss: HTTP %s %s", label, ttl, status, reason
            )

    def enable(self, label: str) -> None:
        """Put an account back into rotation."""
        self._free = None
        if self.redis.delete(self._disabled_key(label)):
            log.warning("account %s is back in rotation", label)

    def disabled_reason(self, label: str) -> str | None:
        """Why the account is out of rotation, or None when it is in."""
        raw = self.redis.get(self._disabled_key(label))
        if raw is None:
            return None
        return text(raw)

    def enabled(self) -> list[str]:
        """Labels currently in rotation (one read for all of them)."""
        labels = self.labels
        found = self.redis.mget([self._disabled_key(lb) for lb in labels]) if labels else []
        return [lb for lb, reason in zip(labels, found, strict=True) if reason is None]

    def choose(self) -> str:
        """The enabled account with the most free slots; ties take turns (round-robin).

        Reading every account's guard costs Redis work per account, so a process reads them
        all at most once per `choice_fresh_s` and counts each job it places meanwhile against
        that reading: a burst spreads evenly for O(1) work per job, whatever the accounts.
        """
        now = time.monotonic()
        if self._free is None or now - self._free_at >= self._choice_fresh_s:
            enabled = self.enabled()
            if not enabled:
                reasons = "; ".join(f"{lb}: {self.disabled_reason(lb)}" for lb in self.accounts)
                raise NoAccountLeft(f"no TTAPI account left in rotation ({reasons})")
            self._free = self.guard.free(enabled) if len(enabled) > 1 else {enabled[0]: 0}
            self._free_at = now
        if len(self._free) == 1:
            return next(iter(self._free))
        best = max(self._free.values())
        ties = [lb for lb, n in self._free.items() if n == best]
        label = ties[int(self.redis.incr(self.keys.round_robin)) % len(ties)]
        self._free[label] -= 1
        return label
