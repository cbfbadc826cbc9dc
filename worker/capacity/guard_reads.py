"""What the slot guard answers without changing anything: snapshots, free places, leases, caps.

Every read that spans accounts goes in one round trip (a pipeline), so a page, the pump or a
placement reads a hundred accounts for the price of one call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from worker.capacity.answers import GuardState, ids_of
from worker.capacity.tenants import TenantBook
from worker.text import text

if TYPE_CHECKING:
    import redis


class GuardReads:
    """The read-only half of `SlotGuard` (which sets `_redis`, `_default_cap` and the scripts)."""

    _redis: redis.Redis
    _default_cap: int
    _state: Any
    _free: Any
    _leases: Any
    _places: Any
    book: TenantBook

    def keys(self, label: str) -> list[str]:
        """The account's keys `[slots, waiters, seq, cap, cool, occ]` (script order)."""
        raise NotImplementedError

    def all_keys(self, label: str) -> list[str]:
        """The whole key set of an account (`SlotGuard.all_keys`)."""
        raise NotImplementedError

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

    def set_cap(self, label: str, cap: int | None) -> None:
        """Override the account's cap (e.g. from TTAPI ``/info``); ``None`` restores the default.

        Lowering it under live holders is safe: no new grant until they drop below the cap.
        Raising it hands nothing out by itself; call `fill` to wake waiters.
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
        """Return a consistent snapshot of the account (one script, read-only); its waiters in
        the order of their scores (priority class, tenant, then line)."""
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

    def places(
        self,
        label: str,
        first: int = 0,
        jobs: tuple[str, ...] = (),
        *,
        book: TenantBook | None = None,
    ) -> dict[str, int]:
        """The estimated place in the order served (1 = next) of the `first` waiters of each
        line of `label` (the next `first` in that order are among them) and of `jobs` that
        wait there, by job id (read-only, one script); `book`, the tenants' weights (this
        guard's own by default)."""
        args: list[str | int] = [first, *jobs, (book or self.book).conf]
        flat = ids_of(self._places(keys=self.all_keys(label), args=args))
        return {flat[i]: int(flat[i + 1]) for i in range(0, len(flat), 2)}

    def next_in_line(
        self, label: str, n: int, *, book: TenantBook | None = None
    ) -> list[tuple[str, int]]:
        """The first `n` waiters of `label` in the order served, with their estimated place."""
        found = self.places(label, n, book=book).items()
        return sorted(found, key=lambda item: (item[1], item[0]))[:n]

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


__all__ = ["GuardReads"]
