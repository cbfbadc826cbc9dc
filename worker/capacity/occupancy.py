"""The guard's calls about places TTAPI's own count holds: a 499 teaches the places another
client leaves us, a job whose fate could not be learned turns its slot into occupancy (see
`worker.capacity.lua`), and jobs TTAPI still runs get back the slots a lapse or a lost write
took from them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from worker.capacity.answers import Woken, check_job
from worker.capacity.tenants import Line, TenantBook


class GuardOccupancy:
    """Part of `SlotGuard` (which sets the lease, the cap, the book and the scripts)."""

    _redis: Any
    _lease_ms: int
    _default_cap: int
    _unresolved: Any
    _restore: Any
    book: TenantBook

    def keys(self, label: str) -> list[str]:
        """The account's six guard keys (`SlotGuard.keys`)."""
        raise NotImplementedError

    def all_keys(self, label: str) -> list[str]:
        """The whole key set of an account (`SlotGuard.all_keys`)."""
        raise NotImplementedError

    def _requeue(self, label: str, args: list[str | int]) -> int:
        """One BACKOFF script call (`SlotGuard._requeue`)."""
        raise NotImplementedError

    def occupied(self, label: str, job_id: str, *, probe_every_s: float, lapse_s: float) -> int:
        """After a 499: someone else runs jobs on the key. Drop the job's lease, queue it FRONT,
        and learn the slots we still hold as the effective cap; one probe above it may go every
        `probe_every_s`, and the effective cap lapses after `lapse_s` without another 499.

        Returns the job's place among the waiters (1 = next).
        """
        check_job(job_id)
        if probe_every_s < 0 or lapse_s <= 0:
            raise ValueError(
                f"need probe_every_s >= 0 and lapse_s > 0, got {probe_every_s}, {lapse_s}"
            )
        gap_ms, lapse_ms = round(probe_every_s * 1000), max(1, round(lapse_s * 1000))
        return self._requeue(label, [job_id, 0, 1, gap_ms, lapse_ms])

    def unresolved(self, label: str, job_id: str, *, probe_every_s: float, lapse_s: float) -> Woken:
        """The job ended for its caller, but TTAPI may still run it: turn its slot into
        occupancy (one place fewer under the effective cap, for at most `lapse_s`) that a probe
        TTAPI accepts gives back, instead of a slot locked for the job's longest life.

        Returns the ids handed a slot meanwhile (none unless a probe is already due).
        """
        check_job(job_id)
        gap_ms, lapse_ms = round(probe_every_s * 1000), max(1, round(lapse_s * 1000))
        args: list[str | int] = [job_id, self._lease_ms, self._default_cap, gap_ms, lapse_ms]
        return Woken.of(self._unresolved(keys=self.all_keys(label), args=[*args, self.book.conf]))

    def seat(self, label: str, job_id: str, now_s: float, *, line: Line | None = None) -> bool:
        """Count a job TTAPI runs against the cap again, after its lease lapsed and a fill
        dropped it (no engine renewed it for a whole lease): a fresh lease from `now_s`
        (Redis's clock). False if it holds one already. With its `line`, it counts against
        its tenant's max_in_progress again too."""
        check_job(job_id)
        if line is not None:
            return self._restore_lines(label, {job_id: line}) == 1
        lease = {job_id: round(now_s * 1000) + self._lease_ms}
        return bool(self._redis.zadd(self.keys(label)[0], lease, nx=True))

    def restore(
        self,
        label: str,
        job_ids: list[str],
        now_ms: int,
        *,
        lines: Mapping[str, Line] | None = None,
    ) -> int:
        """Give jobs that run at TTAPI back the slots a lost write took from them (a failover
        forgot the grant), with a fresh lease, whatever the cap: they hold places there. Jobs
        that hold one keep it. Returns how many were restored. With their `lines`, they count
        against their tenants' max_in_progress again too (the lease on Redis's clock)."""
        if not job_ids:
            return 0
        if lines is not None:
            return self._restore_lines(label, {j: lines.get(j, Line()) for j in job_ids})
        deadline = now_ms + self._lease_ms
        added = self._redis.zadd(self.keys(label)[0], dict.fromkeys(job_ids, deadline), nx=True)
        return int(added or 0)

    def _restore_lines(self, label: str, lines: Mapping[str, Line]) -> int:
        """One RESTORE script call: grants, whatever the cap, noted with each job's line."""
        args: list[str | int] = [self._lease_ms]
        for job_id, line in lines.items():
            args += [job_id, line.rank, line.bucket, int(line.loose)]
        return int(self._restore(keys=self.all_keys(label), args=[*args, self.book.conf]))


__all__ = ["GuardOccupancy"]
