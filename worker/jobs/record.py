"""A job's record as stored in Redis: its states, its typed fields and their encoding."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RecordState(StrEnum):
    """A record's own state in its Redis hash (not the state Celery shows: `TaskState`).

    NEW → WAITING → SUBMITTING → SUBMITTED(ttapi_job_id) → SUCCESS | FAILED
     │                   └────→ AMBIGUOUS (answer lost) → SUBMITTED | WAITING (resubmit ≤ 2)
     └─────┴─→ REVOKED (the caller revoked it, or its `expires` passed, before any submit)

    Every change of state is a compare-and-set (`RecordStore.move`); the values are the
    strings stored, which operators and `mjw jobs` read.
    """

    NEW = "NEW"
    WAITING = "WAITING"
    SUBMITTING = "SUBMITTING"
    SUBMITTED = "SUBMITTED"
    AMBIGUOUS = "AMBIGUOUS"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    REVOKED = "REVOKED"


class Storing(StrEnum):
    """A finished job's `storing` flag (`worker.jobs.storing`): whether its files are being
    copied to the store, and whether its report waits for the copy. The values are stored."""

    NONE = ""  # nothing to copy, or the copy ended
    HOLD = "hold"  # the last job step of its chain: its report waits for the copy
    BACKGROUND = "background"  # an intermediate step: delivered at once, copied after


# The fields read back as their enum's members (a value this release does not know is kept as
# the string stored: a release after this one may add a state, and its records must still list).
ENUM_FIELDS: dict[str, type[StrEnum]] = {"state": RecordState, "storing": Storing}

# The record has ended: it leaves the active index and its outcome is owed to its caller.
TERMINAL = (RecordState.SUCCESS, RecordState.FAILED, RecordState.REVOKED)
# Not sent to TTAPI yet: a revoke or an expiry can still end it, and it may change account.
UNSENT = (RecordState.NEW, RecordState.WAITING)
# TTAPI may have the job (a submit went out): the record holds its account's slot.
IN_FLIGHT = (RecordState.SUBMITTING, RecordState.SUBMITTED, RecordState.AMBIGUOUS)

INT_FIELDS = (
    "poll_seq",
    "progress",
    "prev_progress",
    "submit_attempts",
    "resubmits",
    "fetch_errors",
    "urgency",
    "unknown_fetches",
    "ambiguous_resubmits",
    "step_errors",
)
FLOAT_FIELDS = (
    "created_at",
    "sent_at",
    "submitted_at_ts",
    "finished_at_ts",
    "deadline",
    "next_poll_at",
    "woken_at",
    "last_poll_at",
    "last_progress_at",
    "prev_progress_at",
    "lost_at",
    "history_seen_at",
    "hold_until",
    "expires_at",
    "waiting_since",
    "storing_since",
    "revoke_asked_at",
)
JSON_FIELDS = ("params", "result", "sig", "parent")
# Fields stored under another name in the hash. `urgency` keeps its old name, `priority`, so a
# worker of the release before (which reads `priority` as a number) reads this one's records
# during a rolling upgrade; the caller's priority class therefore has a name of its own.
STORED_AS = {"urgency": "priority", "priority": "caller_priority"}
READ_AS = {stored: name for name, stored in STORED_AS.items()}


@dataclass
class JobRecord:
    """A job's record as stored; unknown fields stay in `extra`."""

    job_id: str
    state: RecordState
    kind: str = ""
    account: str = ""
    pinned: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    parent: dict[str, Any] = field(default_factory=dict)
    ttapi_job_id: str = ""
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    sig: dict[str, Any] = field(default_factory=dict)
    poll_seq: int = 0
    progress: int = 0
    prev_progress: int = 0
    urgency: int = 2  # the guard's class: 0 first in line (a refused submit), 1 follow-ups, 2 fresh
    tenant: str = "default"  # who asked (config.tenants)
    priority: str = "normal"  # how urgent the caller said it is: high, normal or low
    submit_attempts: int = 0
    resubmits: int = 0
    fetch_errors: int = 0
    unknown_fetches: int = 0  # 404/401/400 answers to fetch in a row (TTAPI does not know it)
    ambiguous_resubmits: int = 0  # resubmits after a lost answer (each within its deadline)
    step_errors: int = 0  # unexpected errors in its steps (see worker.jobs.mishaps)
    previous_job_id: str = ""  # the TTAPI job a transient failure replaced
    created_at: float = 0.0
    sent_at: float = 0.0
    submitted_at_ts: float = 0.0
    finished_at_ts: float = 0.0
    deadline: float = 0.0
    next_poll_at: float = 0.0
    woken_at: float = 0.0
    last_poll_at: float = 0.0
    last_progress_at: float = 0.0
    prev_progress_at: float = 0.0
    lost_at: float = 0.0  # when the submit's answer was lost (AMBIGUOUS since)
    history_seen_at: float = 0.0  # last successful read of TTAPI's job history while AMBIGUOUS
    hold_until: float = 0.0  # an ended job keeps its slot until then (it may still run)
    expires_at: float = 0.0  # the task's `expires`: not submitted after this
    waiting_since: float = 0.0  # when it first found its account full
    hook_token: str = ""
    hooked_job_id: str = ""  # a callback's TTAPI job, kept while the submit was under way
    last_error: str = ""  # what the last submit that may have created the job answered
    # Result storage (worker.jobs.storing): `hold` or `background` while its files are copied.
    storing: Storing = Storing.NONE
    storing_since: float = 0.0  # when its copy began (its end, on Redis's clock)
    # When a worker received a revoke() of it after it was submitted: it runs to its end, and
    # its report says REVOKED (a report in the engine never sees a worker's revoked ids).
    revoke_asked_at: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_hash(cls, job_id: str, raw: dict[str, str]) -> JobRecord:
        """Decode a Redis hash (str → typed fields)."""
        known = set(cls.__dataclass_fields__)
        values: dict[str, Any] = {"job_id": job_id, "extra": {}}
        for stored, value in raw.items():
            key = READ_AS.get(stored, stored)
            if key in INT_FIELDS:
                values[key] = int(float(value or 0))
            elif key in FLOAT_FIELDS:
                values[key] = float(value or 0)
            elif key in JSON_FIELDS:
                values[key] = json.loads(value) if value else {}
            elif key == "pinned":
                values[key] = value == "1"
            elif key in ENUM_FIELDS:
                values[key] = _member(ENUM_FIELDS[key], value)
            elif key in known and key not in ("job_id", "extra"):
                values[key] = value
            else:
                values["extra"][stored] = value
        values.setdefault("state", RecordState.NEW)
        return cls(**values)


def _member(enum: type[StrEnum], value: str) -> Any:
    """`value` as a member of `enum`, or the string itself when `enum` has no such member."""
    return enum._value2member_map_.get(value, value)


def encode(fields: dict[str, Any]) -> dict[str, str]:
    """Encode typed fields for a Redis hash (dicts as JSON, bools as 1/0)."""
    out: dict[str, str] = {}
    for name, value in fields.items():
        key = STORED_AS.get(name, name)
        if name in JSON_FIELDS or isinstance(value, dict | list):
            out[key] = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, bool):
            out[key] = "1" if value else "0"
        elif value is None:
            out[key] = ""
        else:
            out[key] = str(value)
    return out
