"""Job records: one Redis hash per job (keyed by its Celery task id) with compare-and-set states.

The states, and the diagram of their changes, are `RecordState` (`worker.jobs.record`).
Every transition goes through `cas`, a Lua script that changes the hash only when its current
values are the expected ones, so a redelivered or duplicated message finds the job further
along and never repeats a submit. Every record that has not ended is also in the `active`
index (a sorted set scored by when the pump should next look at it), so a job that lost every
message and every guard entry is still found by its state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import redis

from config.settings import default
from worker.capacity.lua import ACCEPTED_FN
from worker.jobs.effects import ProgressNote
from worker.jobs.record import TERMINAL, JobRecord, RecordState, encode
from worker.keys import KEYS, Keys
from worker.lua import script
from worker.text import text

# KEYS: record, active index, undelivered. ARGV: expected values (JSON), '1' when the job ends
# (it leaves the active index and its outcome is owed to its caller, in the same breath), the
# job id, field pairs.
_CAS = script("jobs/records/cas_fn.lua", "jobs/records/cas.lua")

# KEYS: record, active index, undelivered, the TTAPI job's claim, the account's clock skew, and
# optionally the guard's keys of `accepted` (occupancy, refusals). ARGV: expected values
# (JSON), job id, claim ttl, skew ('': none learned), skew ttl, '1' to read the callback's
# TTAPI job, field pairs. Claims the TTAPI job (or finds it already the record's), then
# compare-and-sets, then (moved, with the guard's keys) tells the guard TTAPI accepted it.
# Returns {1 moved | 0 not as expected | -1 no record | -2 claimed by another record, the
# callback's TTAPI job when read ('' otherwise), 1 when the job was the account's probe}.
_SUBMITTED = script(*ACCEPTED_FN, "jobs/records/cas_fn.lua", "jobs/records/submitted.lua")

# KEYS: record. ARGV: poll step, progress, field pairs. 1 when noted (see note_fn.lua).
_NOTE = script("jobs/records/note_fn.lua", "jobs/records/note.lua")

# KEYS: record, active index. ARGV: ttl, initial state, first look at (score), field pairs.
# Returns {} when it created the record, else the record as stored.
_CREATE = script("jobs/records/create.lua")


CLAIMED_BY_ANOTHER = -2  # `RecordStore.move_claimed`: the TTAPI job is another record's


@dataclass(frozen=True)
class ClaimNote:
    """What `RecordStore.move_claimed` writes beside the record: the TTAPI job's claim (its key
    and ttl) and the account's clock skew (its key, and the value with its ttl if learned)."""

    key: str
    ttl_s: int
    skew_key: str
    skew: tuple[str, int] | None = None


class RecordStore:
    """Reads, creates and compare-and-sets job records; every key expires after `ttl_s`."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        ttl_s: int = default("mj_record_ttl_s"),
        keys: Keys = KEYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = client
        self.ttl_s = ttl_s
        self.keys = keys
        self.clock = clock
        self.active = keys.active
        self._cas = client.register_script(_CAS)
        self._create = client.register_script(_CREATE)
        self._submitted = client.register_script(_SUBMITTED)
        self._note = client.register_script(_NOTE)

    def key(self, job_id: str) -> str:
        """Redis key of one job's record."""
        return self.keys.job(job_id)

    def create(self, job_id: str, state: RecordState = RecordState.NEW, **fields: Any) -> JobRecord:
        """Create the record in `state` (NEW) unless it exists; return it as stored either way
        (one round trip: what was written is not read back)."""
        now = self.clock()
        fields.setdefault("created_at", now)
        encoded = encode(fields)
        flat: list[str] = [x for pair in encoded.items() for x in pair]
        raw = self._create(
            keys=[self.key(job_id), self.active], args=[self.ttl_s, state, now, *flat]
        )
        stored = _pairs(raw) if raw else {**encoded, "state": state}
        return JobRecord.from_hash(job_id, stored)

    def load(self, job_id: str) -> JobRecord | None:
        """The record, or None when there is none (never created, or expired)."""
        raw = self.redis.hgetall(self.key(job_id))
        return JobRecord.from_hash(job_id, _decode(raw)) if raw else None

    def signature(self, job_id: str) -> dict[str, Any]:
        """Only the stored task signature ({} if none): what a re-publish needs."""
        raw = self.redis.hget(self.key(job_id), "sig")
        return json.loads(raw) if raw else {}

    def peek(self, job_ids: list[str], fields: tuple[str, ...]) -> dict[str, JobRecord | None]:
        """Only `fields` (with "state") of many records, in one round trip: the pump reads
        every holder and many open records each round, and needs a few fields of each."""
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hmget(self.key(job_id), list(fields))
        out: dict[str, JobRecord | None] = {}
        for job_id, values in zip(job_ids, pipe.execute() if job_ids else [], strict=True):
            raw = {f: text(v) for f, v in zip(fields, values, strict=True) if v is not None}
            out[job_id] = JobRecord.from_hash(job_id, raw) if "state" in raw else None
        return out

    def cas(self, job_id: str, expect: dict[str, Any], **changes: Any) -> bool:
        """Apply `changes` only if every field in `expect` has one of the given values.

        A change to an ended state also notes the job's outcome as owed to its caller
        (`worker.jobs.delivery`), atomically: no kill can come between the two.
        """
        return int(self._cas(**self._cas_call(job_id, expect, changes))) == 1

    def move_on(
        self,
        pipe: Any,
        job_id: str,
        from_states: tuple[RecordState, ...] | RecordState,
        to: RecordState,
        *,
        expect: Mapping[str, Any] | None = None,
        **changes: Any,
    ) -> None:
        """`move`, queued on the pipeline `pipe`: its reply there is 1 when the record moved
        (`worker.jobs.durable` follows it with a WAIT on the same connection)."""
        states = (from_states,) if isinstance(from_states, str) else from_states
        wanted = {**(expect or {}), "state": list(states)}
        self._cas(**self._cas_call(job_id, wanted, {"state": to, **changes}), client=pipe)

    def _cas_call(
        self, job_id: str, expect: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        ends = "1" if changes.get("state") in TERMINAL else "0"
        args = [_wanted(expect), ends, job_id, *_flat(changes)]
        return {"keys": self._cas_keys(job_id), "args": args}

    def _cas_keys(self, job_id: str) -> list[str]:
        """The keys every compare-and-set script takes first: record, active, undelivered."""
        return [self.key(job_id), self.active, self.keys.undelivered]

    def note_call(self, job_id: str, note: ProgressNote) -> tuple[list[str], list[str | int]]:
        """The keys and args of a progress note, for a script that composes `note_fn.lua`
        (the adapter's visible state does, so both are one call)."""
        return [self.key(job_id)], [note.seq, note.progress, *note.fields]

    def note(self, job_id: str, note: ProgressNote) -> bool:
        """Apply a progress note alone (where no result backend shows the state); True when
        it landed."""
        keys, args = self.note_call(job_id, note)
        return int(self._note(keys=keys, args=args)) == 1

    def move_claimed(
        self,
        job_id: str,
        expect: Mapping[str, Any],
        claim: ClaimNote,
        *,
        read_hooked: bool,
        accepted: list[str] | None = None,
        **changes: Any,
    ) -> tuple[int, str, bool]:
        """Claim a TTAPI job for the record and compare-and-set it, in one script call (the
        submit's answer: `worker.jobs.submit`). Returns (1 moved, 0 not as expected, -1 no
        record, -2 the TTAPI job is another record's; then nothing moved), with
        `read_hooked` the TTAPI job a callback named meanwhile ("" if none), and with
        `accepted` (`SlotGuard.accepted_keys`) whether the job, once moved, was the account's
        probe (the guard learned TTAPI accepted it, as `SlotGuard.accepted`)."""
        if changes.get("state") in TERMINAL or "state" not in expect:
            # The script never notes an ending as owed (`cas` does), and moves only from a
            # state the caller names.
            raise ValueError("move_claimed: from a named state, never to an ended one")
        skew, skew_ttl = claim.skew or ("", 0)
        hooked_too = int(read_hooked)
        head: list[str | int] = [_wanted(expect), job_id, claim.ttl_s, skew, skew_ttl, hooked_too]
        keys = [*self._cas_keys(job_id), claim.key, claim.skew_key, *(accepted or [])]
        status, hooked, probe = self._submitted(keys=keys, args=[*head, *_flat(changes)])
        return int(status), text(hooked), bool(int(probe))

    def move(
        self,
        job_id: str,
        from_states: tuple[RecordState, ...] | RecordState,
        to: RecordState,
        *,
        expect: Mapping[str, Any] | None = None,
        **changes: Any,
    ) -> bool:
        """Compare-and-set the state from one of `from_states` to `to`, with other changes.

        `expect` adds other fields that must still hold (e.g. the TTAPI job id a poll read, so
        a stale answer about an earlier attempt never ends the record of a later one).
        """
        states = (from_states,) if isinstance(from_states, str) else from_states
        return self.cas(job_id, {**(expect or {}), "state": list(states)}, state=to, **changes)

    def moved(
        self,
        rec: JobRecord,
        from_states: tuple[RecordState, ...] | RecordState,
        to: RecordState,
        **changes: Any,
    ) -> JobRecord | None:
        """`move` the record `rec` was read as; the record as it now is, or None if it lost."""
        if not self.move(rec.job_id, from_states, to, **changes):
            return None
        return replace(rec, state=to, **changes)

    def due(self, before: float, limit: int = 200) -> list[str]:
        """Ids of records not ended whose next look by the pump is due (score <= `before`)."""
        keys = self.redis.zrangebyscore(self.active, "-inf", before, start=0, num=limit)
        head = len(self.key(""))
        return [text(k)[head:] for k in keys]

    def look_again(self, job_ids: list[str], at: float) -> None:
        """Score the records' next look by the pump at `at` (only those still in the index)."""
        if job_ids:
            self.redis.zadd(self.active, {self.key(j): at for j in job_ids}, xx=True)

    def forget(self, job_id: str) -> None:
        """Drop a record from the active index (it ended, or it is gone)."""
        self.redis.zrem(self.active, self.key(job_id))

    def update(self, job_id: str, **changes: Any) -> bool:
        """Set fields whatever the state (progress, sig, ...); never re-creates a lost record."""
        return bool(changes) and self.cas(job_id, {}, **changes)


def _wanted(expect: Mapping[str, Any]) -> str:
    """A compare-and-set's expectations as its script reads them: JSON, each field's accepted
    values as strings."""
    return json.dumps(
        {
            k: [str(x) for x in (v if isinstance(v, list | tuple) else [v])]
            for k, v in expect.items()
        }
    )


def progress_note(seq: int, progress: int, **fields: Any) -> ProgressNote:
    """The note of a job's new `progress` at poll step `seq`, with the other `fields` that
    move with it (the previous progress and when each came), encoded as the record stores
    them."""
    return ProgressNote(seq, progress, tuple(_flat({"progress": progress, **fields})))


def _flat(changes: Mapping[str, Any]) -> list[str]:
    """Fields to write, encoded, as the flat name/value list a script's ARGV ends with."""
    return [x for pair in encode(dict(changes)).items() for x in pair]


def _decode(raw: Any) -> dict[str, str]:
    return {text(k): text(v) for k, v in dict(raw).items()}


def _pairs(flat: list[Any]) -> dict[str, str]:
    items = [text(x) for x in flat]
    return dict(zip(items[0::2], items[1::2], strict=True))


__all__ = ["CLAIMED_BY_ANOTHER", "ClaimNote", "JobRecord", "RecordStore", "encode"]
