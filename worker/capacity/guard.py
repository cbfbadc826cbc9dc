"""Per-account slot guard: at most ``cap`` jobs in progress per TTAPI account, and who goes next.

Each account (identified by a short non-secret *label*) has, under one ``{label}`` hash tag:

- ``slots``   sorted set, member = job id, score = lease deadline (ms since epoch, Redis ``TIME``);
- ``waiters`` sorted set, member = job id, score = its line and arrival (priority class, tenant,
  urgency, sequence: see ``worker/lua/capacity/guard/lines.lua``);
- ``seq``     counter for that sequence; ``cap`` optional cap override; ``cool`` cooldown (PX TTL);
- ``occ``     occupancy learned from a 499: the effective cap, and the probe above it (PX TTL);
- ``loose``, ``tally``, ``held``: the waiters another account may take, waiters per line, and
  each holder's line (`worker.keys.Keys.guard_lines`).

Every change is one Lua script (:mod:`worker.capacity.lua`), so the guard holds across any number of
worker processes.  Waiting never sleeps: a queued job is handed a slot by whoever frees one
(``release``/``fill`` return the ids to re-publish), and a periodic pump calls ``fill``.
A freed place goes to the most urgent priority class, then to the tenant furthest below its
weighted share of slot-time (usage decays: `policy.SHARE_HALF_LIFE_S`), then to a refused
submit, follow-ups, and first come first served; a tenant at its ``max_in_progress`` waits.
``steal`` lets an account whose own line is empty take a waiter from another's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.settings import default
from worker.capacity import lua as guard_lua
from worker.capacity.answers import AcquireResult, GuardState, Queued, Woken, check_job, ids_of
from worker.capacity.guard_reads import GuardReads
from worker.capacity.occupancy import GuardOccupancy
from worker.capacity.tenants import Line, TenantBook
from worker.keys import KEYS, Keys
from worker.policy import GUARD_LEASE_S

if TYPE_CHECKING:
    import redis

__all__ = [
    "FOLLOW_UP",
    "FRESH",
    "FRONT",
    "AcquireResult",
    "GuardState",
    "Line",
    "Queued",
    "SlotGuard",
    "Woken",
]

FRONT = 0
"""Urgency of a job requeued after a 499/429: first in its own tenant's line of its class."""
FOLLOW_UP = 1
"""Urgency of a pipeline's follow-up action, so started pipelines finish first."""
FRESH = 2
"""Urgency of a new imagine."""

_PRIORITIES = (FRONT, FOLLOW_UP, FRESH)


class SlotGuard(GuardOccupancy, GuardReads):
    """Leases on per-account slots in Redis; see the module docstring for the key layout."""

    def __init__(
        self,
        redis: redis.Redis,
        *,
        default_cap: int = default("ttapi_max_in_progress"),
        lease_s: float = GUARD_LEASE_S,
        keys: Keys = KEYS,
        book: TenantBook | None = None,
    ) -> None:
        """Register the Lua scripts; ``lease_s`` is how long a grant lives unless renewed;
        `book`, the tenants (only `default` without one)."""
        if default_cap < 0:
            raise ValueError(f"default_cap must be >= 0, got {default_cap}")
        if lease_s <= 0:
            raise ValueError(f"lease_s must be > 0, got {lease_s}")
        self._redis = redis
        self._default_cap = int(default_cap)
        self._lease_ms = max(1, round(lease_s * 1000))
        self._keys = keys
        self.book = book or TenantBook()
        self._all: dict[str, list[str]] = {}
        self._acquire = redis.register_script(guard_lua.ACQUIRE)
        self._renew = redis.register_script(guard_lua.RENEW)
        self._accepted = redis.register_script(guard_lua.ACCEPTED)
        self._release = redis.register_script(guard_lua.RELEASE)
        self._fill = redis.register_script(guard_lua.FILL)
        self._backoff = redis.register_script(guard_lua.BACKOFF)
        self._state = redis.register_script(guard_lua.STATE)
        self._free = redis.register_script(guard_lua.FREE)
        self._leases = redis.register_script(guard_lua.LEASES)
        self._unresolved = redis.register_script(guard_lua.UNRESOLVED)
        self._enqueue = redis.register_script(guard_lua.ENQUEUE)
        self._steal = redis.register_script(guard_lua.STEAL)
        self._places = redis.register_script(guard_lua.PLACES)
        self._restore = redis.register_script(guard_lua.RESTORE)

    def keys(self, label: str) -> list[str]:
        """Return the account's keys ``[slots, waiters, seq, cap, cool, occ]`` (script order)."""
        return self._keys.guard(label)

    def account_keys(self, label: str) -> list[str]:
        """The account's nine keys: the guard's six, then its callers' three."""
        return self.all_keys(label)[:9]

    def all_keys(self, label: str) -> list[str]:
        """The whole set the scripts that hand places out take: the account's nine, then the
        pool's five (kept per label: every call needs them)."""
        found = self._all.get(label)
        if found is None:
            found = [*self._keys.guard(label), *self._keys.guard_lines(label), *self._keys.pool]
            self._all[label] = found
        return found

    def acquire(
        self, label: str, job_id: str, *, priority: int = FRESH, line: Line | None = None
    ) -> AcquireResult:
        """Take a slot for ``job_id`` now, or queue it in `line` (keeping its place if already
        queued); `priority` is its urgency (FRONT, FOLLOW_UP, FRESH).

        Re-entrant: a job that holds a slot (granted earlier or handed to it) gets its lease
        renewed and ``granted=True``; ``cooldown_ms`` is then reported as 0.
        """
        check_job(job_id)
        if priority not in _PRIORITIES:
            raise ValueError(f"priority must be one of {_PRIORITIES}, got {priority!r}")
        at = line or Line()
        args: list[str | int] = [job_id, priority, self._lease_ms, self._default_cap]
        args += [at.rank, at.bucket, int(at.loose), self.book.conf]
        reply = self._acquire(keys=self.all_keys(label), args=args)
        return AcquireResult(
            granted=bool(int(reply[0])),
            queued=bool(int(reply[1])),
            cooldown_ms=int(reply[2]),
            woken=ids_of(reply[4:]),
            position=int(reply[3]),
        )

    def enqueue(
        self, label: str, job_id: str, *, priority: int = FRESH, line: Line | None = None
    ) -> Queued:
        """Queue the job in `line` for a slot without taking one: the account's engine hands
        slots out (`fill`) and submits. Hints that engine when a slot could go now; a job that
        already holds a slot is hinted to it for submitting instead."""
        check_job(job_id)
        if priority not in _PRIORITIES:
            raise ValueError(f"priority must be one of {_PRIORITIES}, got {priority!r}")
        at = line or Line()
        keys = [*self.all_keys(label), self._keys.wake(label)]
        args: list[str | int] = [job_id, priority, self._default_cap, at.rank, at.bucket]
        reply = self._enqueue(keys=keys, args=[*args, int(at.loose), self.book.conf])
        held, position, free, capped = (int(x) for x in reply[:4])
        return Queued(
            holds=bool(held),
            position=position,
            free=bool(free),
            capped=bool(capped),
            roomy=tuple(ids_of(reply[4:])),
        )

    def renew(self, label: str, job_id: str, *, confirms: bool = True) -> bool:
        """Extend the job's lease to now + lease; False if it holds no live lease.

        A renew says TTAPI runs the job (`confirms`): if the job was a probe above the effective
        cap, the cap rises by one. The pump, renewing jobs whose submit is not answered yet,
        passes ``confirms=False``.
        """
        check_job(job_id)
        return self._renew_for(label, job_id, self._lease_ms, confirms)

    def renew_all(self, jobs: list[tuple[str, str, bool]]) -> list[bool]:
        """`renew` many (label, job id, confirms) in one round trip; which held a live lease."""
        pipe = self._redis.pipeline(transaction=False)
        for label, job_id, confirms in jobs:
            check_job(job_id)
            keys = self.keys(label)
            args: list[str | int] = [job_id, self._lease_ms, int(confirms)]
            self._renew(keys=[keys[0], keys[5]], args=args, client=pipe)
        return [bool(int(ok)) for ok in pipe.execute()] if jobs else []

    def accepted(self, label: str, job_id: str) -> bool:
        """TTAPI accepted the job's submit: end the account's 429 streak and, if the job was
        the probe above the effective cap, raise that cap by one. True if it was the probe
        (the caller then fills the account: the next probe may go at once)."""
        check_job(job_id)
        return bool(int(self._accepted(keys=self.accepted_keys(label), args=[job_id])))

    def accepted_keys(self, label: str) -> list[str]:
        """The keys `accepted` works on (occupancy, refusals), for a script that runs it with
        its own work in one call (`RecordStore.move_claimed`)."""
        return [self.keys(label)[5], self._keys.refusals(label)]

    def hold(self, label: str, job_id: str, seconds: float) -> bool:
        """Set the job's live lease to end `seconds` from now (e.g. until an unknown job's end)."""
        check_job(job_id)
        return self._renew_for(label, job_id, max(1, round(seconds * 1000)), False)

    def _renew_for(self, label: str, job_id: str, lease_ms: int, confirms: bool) -> bool:
        """One RENEW script call on the account's slots and occupancy."""
        keys = self.keys(label)
        args: list[str | int] = [job_id, lease_ms, int(confirms)]
        return bool(int(self._renew(keys=[keys[0], keys[5]], args=args)))

    def release(self, label: str, job_id: str) -> Woken:
        """Free the job's slot and drop it from the waiters (idempotent); return ids woken."""
        check_job(job_id)
        args: list[str | int] = [job_id, self._lease_ms, self._default_cap, self.book.conf]
        return Woken.of(self._release(keys=self.all_keys(label), args=args))

    def backoff(self, label: str, job_id: str, cooldown_s: float) -> int:
        """After a 429: cool the account down, drop the job's lease, queue it FRONT.

        Returns the job's place among the waiters (1 = next).
        """
        check_job(job_id)
        if cooldown_s < 0:
            raise ValueError(f"cooldown_s must be >= 0, got {cooldown_s}")
        args: list[str | int] = [job_id, round(cooldown_s * 1000), 0, 0, 0]
        return self._requeue(label, args)

    def _requeue(self, label: str, args: list[str | int]) -> int:
        """One BACKOFF script call: the job's place once back in line."""
        args = [*args, self._default_cap, self.book.conf]
        return int(self._backoff(keys=self.all_keys(label), args=args))

    def fill(self, label: str) -> Woken:
        """Drop expired leases and hand free slots to the waiters next in turn; their ids."""
        args: list[str | int] = [self._lease_ms, self._default_cap, self.book.conf]
        return Woken.of(self._fill(keys=self.all_keys(label), args=args))

    def steal(self, label: str, donors: list[str]) -> tuple[Woken, list[tuple[str, str]]]:
        """Fill `label` from its own line, then give its places left to waiters the `donors`'
        lines let another account take, each taken out of its donor's line in the same script.
        The ids its own line was handed, and the (job id, donor) pairs taken."""
        keys = [*self.all_keys(label)]
        for donor in donors:
            keys += self.account_keys(donor)
        args: list[str | int] = [self._lease_ms, self._default_cap, self.book.conf]
        reply = ids_of(self._steal(keys=keys, args=args))
        n_own, n_unblocked = int(reply[0]), int(reply[2])
        cut = 3 + n_unblocked + n_own
        own = Woken.of(reply[1:cut])
        rest = reply[cut:]
        return own, list(zip(rest[0::2], rest[1::2], strict=True))
