"""The accounts in rotation: which one a new job goes to, and which are out (401/402).

A new imagine/blend/describe goes to the enabled account with the most free slots (ties take
turns through a shared Redis counter; each process re-reads the accounts at most every
`ACCOUNT_CHOICE_FRESH_S`). An account that answered 401 or 402 is taken out of
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
from worker.capacity.lanes import base_of, lane_of, lanes
from worker.capacity.serving import served
from worker.keys import KEYS, Keys
from worker.policy import ACCOUNT_CHOICE_FRESH_S, DISABLE_OTHER_S, DISABLE_S
from worker.text import text
from worker.ttapi.client import TTAPIClient
from worker.ttapi.errors import InvalidRequest
from worker.ttapi.kinds import is_video_kind

log = logging.getLogger(__name__)


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
        choice_fresh_s: float = ACCOUNT_CHOICE_FRESH_S,
        video_cap: int | None = None,
    ) -> None:
        self.accounts = {a.label: a for a in accounts}
        self.video_cap = video_cap
        self._factory = client_factory
        self._clients: dict[str, TTAPIClient] = {}
        self.guard = guard
        self.redis = redis_client
        self.keys = keys
        self._registry = keys.labels
        self.started_at = 0.0
        self._choice_fresh_s = choice_fresh_s
        # Per kind of lane (video or not): free slots as last read, minus jobs placed since.
        self._free: dict[bool, dict[str, int]] = {}
        self._free_at: dict[bool, float] = {}
        self._reasons: dict[str, tuple[float, str | None]] = {}  # read at most every 0.5 s

    @property
    def labels(self) -> list[str]:
        """Every configured account's label, in configuration order."""
        return list(self.accounts)

    @property
    def guard_labels(self) -> list[str]:
        """Every slot guard of the configured accounts: theirs, then their video lanes (with
        MJ_VIDEO_CAP set; see `worker.capacity.lanes`)."""
        return lanes(self.labels, self.video_cap)

    def lane(self, account: str, kind: str) -> str:
        """The guard a job of `kind` on `account` takes its slot in."""
        return lane_of(account, kind, self.video_cap)

    def configured(self, label: str) -> bool:
        """Whether `label` (an account or one of its lanes) is configured in this process."""
        return base_of(label) in self.accounts

    def register(self, now: float) -> None:
        """Note that a process started now with these accounts (see `removed`)."""
        self.started_at = now
        if self.accounts:
            self.redis.hset(self._registry, mapping={label: now for label in self.accounts})

    def removed(self, label: str) -> bool:
        """True when `label` was dropped from the configuration, not just unknown here.

        A label a live worker serves (its heartbeat lists it: an older or newer node of a
        rollout) is not removed; one that every live worker's heartbeat leaves out is. While
        a worker too old to list its labels is live, the registry decides: every process
        registers its labels when it starts, and a label unknown here that no process has
        registered since this one started belongs to an older configuration, while one
        registered later is a key added by a newer node, which that node can still serve.
        """
        if self.configured(label):
            return False
        live = served(self.redis, self.keys)
        if base_of(label) in live.labels:
            return False
        if live.complete:
            return True
        seen = self.redis.hget(self._registry, base_of(label))
        return seen is None or float(seen) < self.started_at

    def client(self, label: str) -> TTAPIClient:
        """The TTAPI client of one account, or of a lane's account (created on first use)."""
        label = base_of(label)
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
        self._account(base_of(label))
        return label

    def _disabled_key(self, label: str) -> str:
        return self.keys.disabled(base_of(label))

    def disable(self, label: str, status: int, reason: str) -> None:
        """Take an account out of rotation after a 401/402 (logged once, expires by itself)."""
        label = base_of(label)
        self._forget()  # choose again without it at once
        ttl = DISABLE_S.get(status, DISABLE_OTHER_S)
        if self.redis.set(self._disabled_key(label), f"{status} {reason}", ex=ttl, nx=True):
            log.error(
                "account %s taken out of rotation for %ss: HTTP %s %s", label, ttl, status, reason
            )

    def enable(self, label: str) -> None:
        """Put an account back into rotation."""
        label = base_of(label)
        self._forget()
        if self.redis.delete(self._disabled_key(label)):
            log.warning("account %s is back in rotation", label)

    def _forget(self) -> None:
        self._free.clear()
        self._reasons.clear()

    def disabled_reason(self, label: str) -> str | None:
        """Why the account (of a lane) is out of rotation, or None when it is in; read at most
        every `choice_fresh_s` per process (every job asks, and it changes once an hour)."""
        label, now = base_of(label), time.monotonic()
        seen = self._reasons.get(label)
        if seen is not None and now - seen[0] < self._choice_fresh_s:
            return seen[1]
        raw = self.redis.get(self._disabled_key(label))
        reason = None if raw is None else text(raw)
        self._reasons[label] = (now, reason)
        return reason

    def enabled(self) -> list[str]:
        """Labels currently in rotation (one read for all of them)."""
        labels = self.labels
        found = self.redis.mget([self._disabled_key(lb) for lb in labels]) if labels else []
        return [lb for lb, reason in zip(labels, found, strict=True) if reason is None]

    def choose(self, kind: str = "imagine") -> str:
        """The enabled account with the most free slots (for a video job with MJ_VIDEO_CAP
        set: the enabled account's video lane); ties take turns (round-robin).

        Reading every account's guard costs Redis work per account, so a process reads them
        all at most once per `choice_fresh_s` and counts each job it places meanwhile against
        that reading: a burst spreads evenly for O(1) work per job, whatever the accounts.
        """
        video = self.video_cap is not None and is_video_kind(kind)
        now = time.monotonic()
        free = self._free.get(video)
        if free is None or now - self._free_at.get(video, 0.0) >= self._choice_fresh_s:
            enabled = [self.lane(lb, kind) for lb in self.enabled()]
            if not enabled:
                reasons = "; ".join(f"{lb}: {self.disabled_reason(lb)}" for lb in self.accounts)
                raise NoAccountLeft(f"no TTAPI account left in rotation ({reasons})")
            free = self.guard.free(enabled) if len(enabled) > 1 else {enabled[0]: 0}
            self._free[video], self._free_at[video] = free, now
        if len(free) == 1:
            return next(iter(free))
        best = max(free.values())
        ties = [lb for lb, n in free.items() if n == best]
        label = ties[int(self.redis.incr(self.keys.round_robin)) % len(ties)]
        free[label] -= 1
        return label
