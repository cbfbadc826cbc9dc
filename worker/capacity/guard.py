"""Per-account slot guard: at most ``cap`` jobs in progress per TTAPI account, FIFO waiters.

Each account (identified by a short non-secret *label*) has, under one ``{label}`` hash tag:

- ``slots``   sorted set, member = job id, score = lease deadline (ms since epoch, Redis ``TIME``);
- ``waiters`` sorted set, member = job id, score = ``priority * 1e13 + seq`` (FIFO within a class);
- ``seq``     counter for that sequence; ``cap`` optional cap override; ``cool`` cooldown (PX TTL);
- ``occ``     occupancy learned from a 499: the effective cap, and the probe above it (PX TTL).

Every change is one Lua script (:mod:`worker.capacity.lua`), so the guard holds across any number of
worker processes.  Waiting never sleeps: a queued job is handed a slot by whoever frees one
(``release``/``fill`` return the ids to re-publish), and a periodic pump calls ``fill``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.settings import default
from worker.capacity import lua as guard_lua
from worker.capacity.answers import AcquireResult, GuardState, Queued, ids_of
from worker.keys import KEYS, Keys
from worker.policy import GUARD_LEASE_S
from worker.text import text

if TYPE_CHECKING:
    import redis

__all__ = ["FOLLOW_UP", "FRESH", "FRONT", "AcquireResult", "GuardState", "Queued", "SlotGuard"]

FRONT = 0
"""Priority class of a job requeued after a 499/429: it goes ahead of everyone."""
FOLLOW_UP = 1
"""Priority class of a pipeline's follow-up action, so started pipelines finish first."""
FRESH = 2
"""Priority class of a new imagine."""

_PRIORITIES = (FRONT, FOLLOW_UP, FRESH)


class SlotGuard:
    """Leases on per-account slots in Redis; see the module docstring for the key layout."""

    def __init__(
        self,
        redis: redis.Redis,
        *,
        default_cap: int = default("ttapi_max_in_progress"),
        lease_s: float = GUARD_LEASE_S,
        keys: Keys = KEYS,
    ) -> None:
        """Register the Lua scripts; ``lease_s`` is how long a grant lives unless renewed."""
        if default_cap < 0:
            raise ValueError(f"default_cap must be >= 0, got {default_cap}")
        if lease_s <= 0:
            raise ValueError(f"lease_s must be > 0, got {lease_s}")
        self._redis = redis
        self._default_cap = int(default_cap)
        self._lease_ms = max(1, round(lease_s * 1000))
        self._keys = keys
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

    def keys(self, label: str) -> list[str]:
        """Return the account's keys ``[slots, waiters, seq, cap, cool, occ]`` (script order)."""
        return self._keys.guard(label)

    def acquire(self, label: str, job_id: str, *, priority: int = FRESH) -> AcquireResult:
        """Take a slot for ``job_id`` now, or queue it (keeping its place if already queued).

        Re-entrant: a job that holds a slot (granted earlier or handed to it) gets its lease
        renewed and ``granted=True``; ``cooldown_ms`` is then reported as 0.
        """
        _check_job(job_id)
        if priority not in _PRIORITIES:
            raise ValueError(f"priority must be one of {_PRIORITIES}, got {priority!r}")
        args: list[str | int] = [job_id, priority, self._lease_ms, self._default_cap]
        reply = self._acquire(keys=self.keys(label), args=args)
        return AcquireResult(
            granted=bool(int(reply[0])),
            queued=bool(int(reply[1])),
            cooldown_ms=int(reply[2]),
            woken=ids_of(reply[4:]),
            position=int(reply[3]),
        )

    def enqueue(self, label: str, job_id: str, *, priority: int = FRESH) -> Queued:
        """Queue the job for a slot without taking one: the account's engine hands slots out
        (`fill`) and submits. Hints that engine when a slot could go now; a job that already
        holds a slot is hinted to it for submitting instead."""
        _check_job(job_id)
        if priority not in _PRIORITIES:
            raise ValueError(f"priority must be one of {_PRIORITIES}, got {priority!r}")
        keys = [*self.keys(label), self._keys.wake(label)]
        held, position, free = self._enqueue(keys=keys, args=[job_id, priority, self._default_cap])
        return Queued(holds=bool(int(held)), position=int(position), free=bool(int(free)))

    def renew(self, label: str, job_id: str, *, confirms: bool = True) -> bool:
        """Extend the job's lease to now + lease; False if it holds no live lease.

        A renew says TTAPI runs the job (`confirms`): if the job was a probe above the effective
        cap, the cap rises by one. The pump, renewing jobs whose submit is not answered yet,
        passes ``confirms=False``.
        """
        _check_job(job_id)
        return self._renew_for(label, job_id, self._lease_ms, confirms)

    def renew_all(self, jobs: list[tuple[str, str, bool]]) -> list[bool]:
        """`renew` many (label, job id, confirms) in one round trip; which held a live lease."""
        pipe = self._redis.pipeline(transaction=False)
        for label, job_id, confirms in jobs:
            _check_job(job_id)
            keys = self.keys(label)
            args: list[str | int] = [job_id, self._lease_ms, int(confirms)]
            self._renew(keys=[keys[0], keys[5]], args=args, client=pipe)
        return [bool(int(ok)) for ok in pipe.execute()] if jobs else []

    def accepted(self, label: str, job_id: str) -> bool:
        """TTAPI accepted the job's submit: end the account's 429 streak and, if the job was
        the probe above the effective cap, raise that cap by one. True if it was the probe
        (the caller then fills the account: the next probe may go at once)."""
        _check_job(job_id)
        keys = [self.keys(label)[5], self._keys.refusals(label)]
        return bool(int(self._accepted(keys=keys, args=[job_id])))

    def hold(self, label: str, job_id: str, seconds: float) -> bool:
        """Set the job's live lease to end `seconds` from now (e.g. until an unknown job's end)."""
        _check_job(job_id)
        return self._renew_for(label, job_id, max(1, round(seconds * 1000)), False)

    def _renew_for(self, label: str, job_id: str, lease_ms: int, confirms: bool) -> bool:
        """One RENEW script call on the account's slots and occupancy."""
        keys = self.keys(label)
        args: list[str | int] = [job_id, lease_ms, int(confirms)]
        return bool(int(self._renew(keys=[keys[0], keys[5]], args=args)))

    def seat(self, label: str, job_id: str, now_s: float) -> bool:
        """Count a job TTAPI runs against the cap again, after its lease lapsed and a fill
        dropped it (no engine renewed it for a whole lease): a fresh lease from `now_s`
        (Redis's clock). False if it holds one already."""
        _check_job(job_id)
        lease = {job_id: round(now_s * 1000) + self._lease_ms}
        return bool(self._redis.zadd(self.keys(label)[0], lease, nx=True))

    def where_all(self, jobs: list[tuple[str, str]]) -> list[str | None]:
        """For many (label, job id) pairs in one round trip: "slot" if the job holds a lease
        (live or not yet dropped), "waiting" if queued, else None."""
        pipe = self._redis.pipeline(transaction=False)
        for label, job_id in jobs:
            slots, waiters = self.keys(label)[:2]
            pipe.zscore(slots, job_id)
            pipe.zscore(waiters, job_id)
        found = pipe.execute()
        held, queued = found[0::2], found[1::2]
        return [
            "slot" if h is not None else "waiting" if q is not None else None
            for h, q in zip(held, queued, strict=True)
        ]

    def release(self, label: str, job_id: str) -> list[str]:
        """Free the job's slot and drop it from the waiters (idempotent); return ids woken."""
        _check_job(job_id)
        args: list[str | int] = [job_id, self._lease_ms, self._default_cap]
        return ids_of(self._release(keys=self.keys(label), args=args))

    def backoff(self, label: str, job_id: str, cooldown_s: float) -> int:
        """After a 429: cool the account down, drop the job's lease, queue it FRONT.

        Returns the job's place among the waiters (1 = next).
        """
        _check_job(job_id)
        if cooldown_s < 0:
            raise ValueError(f"cooldown_s must be >= 0, got {cooldown_s}")
        args: list[str | int] = [job_id, round(cooldown_s * 1000), 0, 0, 0]
        return int(self._backoff(keys=self.keys(label), args=args))

    def occupied(self, label: str, job_id: str, *, probe_every_s: float, lapse_s: float) -> int:
        """After a 499: someone else runs jobs on the key. Drop the job's lease, queue it FRONT,
        and learn the slots we still hold as the effective cap; one probe above it may go every
        `probe_every_s`, and the effective cap lapses after `lapse_s` without another 499.

        Returns the job's place among the waiters (1 = next).
        """
        _check_job(job_id)
        if probe_every_s < 0 or lapse_s <= 0:
            raise ValueError(
                f"need probe_every_s >= 0 and lapse_s > 0, got {probe_every_s}, {lapse_s}"
            )
        gap_ms, lapse_ms = round(probe_every_s * 1000), max(1, round(lapse_s * 1000))
        return int(self._backoff(keys=self.keys(label), args=[job_id, 0, 1, gap_ms, lapse_ms]))

    def unresolved(
        self, label: str, job_id: str, *, probe_every_s: float, lapse_s: float
    ) -> list[str]:
        """The job ended for its caller, but TTAPI may still run it: turn its slot into
        occupancy (one place fewer under the effective cap, for at most `lapse_s`) that a probe
        TTAPI accepts gives back, instead of a slot locked for the job's longest life.

        Returns the ids handed a slot meanwhile (none unless a probe is already due).
        """
        _check_job(job_id)
        gap_ms, lapse_ms = round(probe_every_s * 1000), max(1, round(lapse_s * 1000))
        args: list[str | int] = [job_id, self._lease_ms, self._default_cap, gap_ms, lapse_ms]
        return ids_of(self._unresolved(keys=self.keys(label), args=args))

    def restore(self, label: str, job_ids: list[str], now_ms: int) -> int:
        """Give jobs that run at TTAPI back the slots a lost write took from them (a failover
        forgot the grant), with a fresh lease, whatever the cap: they hold places there. Jobs
        that hold one keep it. Returns how many were restored."""
        if not job_ids:
            return 0
        deadline = now_ms + self._lease_ms
        added = self._redis.zadd(self.keys(label)[0], dict.fromkeys(job_ids, deadline), nx=True)
        return int(added or 0)

    def fill(self, label: str) -> list[str]:
        """Drop expired leases and hand free slots to head waiters; return their ids in order."""
        return ids_of(self._fill(keys=self.keys(label), args=[self._lease_ms, self._default_cap]))

    def set_cap(self, label: str, cap: int | None) -> None:
        """Override the account's cap (e.g. from TTAPI ``/info``); ``None`` restores the default.

        Lowering it under live holders is safe: no new grant until they drop below the cap.
        Raising it hands nothing out by itself; call :meth:`fill` to wake waiters.
        """
        key = self.keys(label)[3]
        if cap is None:
            self._redis.delete(key)
        elif cap < 0:
            raise ValueError(f"cap must be >= 0, got {cap}")
        else:
            self._redis.set(key, int(cap))

    def cap(self, label: str) -> int:
        """Return the account's effective cap (override or default)."""
        value = self._redis.get(self.keys(label)[3])
        return self._default_cap if value is None else int(text(value))

    def state(self, label: str) -> GuardState:
        """Return a consistent snapshot of the account (one script, read-only)."""
        reply = self._state(keys=self.keys(label), args=[self._default_cap])
        n_holders = int(reply[3])
        pairs = reply[4 : 4 + 2 * n_holders]
        holders = {text(pairs[i]): int(pairs[i + 1]) for i in range(0, len(pairs), 2)}
        effective = int(reply[2])
        return GuardState(
            cap=int(reply[0]),
            holders=holders,
            waiters=ids_of(reply[4 + 2 * n_holders :]),
            cooldown_ms=int(reply[1]),
            effective_cap=None if effective < 0 else effective,
        )

    def free(self, labels: list[str]) -> dict[str, int]:
        """Return ``limit - holders - waiters`` per label (may be negative), in one round-trip;
        the limit is the cap, or the effective cap a 499 taught when lower."""
        pipe = self._redis.pipeline(transaction=False)
        for label in labels:
            self._free(keys=self.keys(label), args=[self._default_cap], client=pipe)
        return {label: int(n) for label, n in zip(labels, pipe.execute(), strict=True)}

    def leases(self, labels: list[str]) -> dict[str, dict[str, int]]:
        """Every holder of each account, lapsed or not, with the ms left on its lease (<= 0:
        lapsed), in one round trip: what the pump looks at."""
        pipe = self._redis.pipeline(transaction=False)
        for label in labels:
            self._leases(keys=self.keys(label)[:1], client=pipe)
        out: dict[str, dict[str, int]] = {}
        for label, flat in zip(labels, pipe.execute(), strict=True):
            out[label] = {text(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}
        return out


def _check_job(job_id: str) -> None:
    """Reject empty ids early: an empty member would silently share one slot between jobs."""
    if not isinstance(job_id, str) or not job_id:
        raise ValueError(f"job_id must be a non-empty string, got {job_id!r}")
