"""Nothing we pay for depends on a write only one machine saw: a submit's intent reaches the
replicas (`MJ_REDIS_MIN_REPLICAS`, within `MJ_REDIS_WAIT_MS`) before its POST.

The compare-and-set that makes a job SUBMITTING (attempt, `sent_at`, ...) and a `WAIT` go in
one non-transactional pipeline on one connection (`worker.jobs.replicas`). With too few
acknowledgements the job goes back to WAITING, first in its line: not counted as an attempt,
no cooldown, not sent; the account is filled again after the wait. That trades liveness for
safety, as Redis's own `min-replicas-to-write` does: while no replica acknowledges (one replica,
during the minutes after a failover until the old master returns as a replica) every submit
waits. The fleet sees it: `keys.submits_paused` (read by the private `/healthz`, the operator
page and `mj_submits_paused`) says since when and why, until a submit's wait succeeds.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from worker.jobs.effects import Effects, Fill
from worker.jobs.record import UNSENT, RecordState
from worker.jobs.records import JobRecord
from worker.jobs.replicas import Acks
from worker.jobs.runtime import Runtime
from worker.jobs.states import show_waiting
from worker.policy import SUBMITS_PAUSED_NOTE_S

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Intent:
    """The SUBMITTING compare-and-set: whether it moved the record, and whether enough copies
    acknowledged it (always, when no replica is wanted)."""

    moved: bool
    acks: Acks

    @property
    def durable(self) -> bool:
        """True when the POST may go: the intent survives losing the master now."""
        return self.acks.enough


def submitting(rt: Runtime, rec: JobRecord, label: str, changes: dict[str, Any]) -> Intent:
    """Move the job from an unsent state to SUBMITTING with `changes` (on `label` only), and
    wait for the replicas in the same round trip."""
    if not rt.durability.needed(rt.redis):  # one Redis, no WAITAOF: the plain compare-and-set
        moved = rt.records.move(
            rec.job_id, UNSENT, RecordState.SUBMITTING, expect={"account": label}, **changes
        )
        return Intent(moved, Acks([], 0, 0))
    pipe = rt.redis.pipeline(transaction=False)
    rt.records.move_on(
        pipe, rec.job_id, UNSENT, RecordState.SUBMITTING, expect={"account": label}, **changes
    )
    acks = rt.durability.run(pipe)
    moved = int(acks.replies[0]) == 1
    if moved and acks.enough and rt.durability.paused:
        resumed(rt)
    return Intent(moved, acks)


def not_durable(rt: Runtime, rec: JobRecord, label: str, intent: Intent, sent_at: float) -> Effects:
    """Too few copies acknowledged the intent: nothing is sent; the job waits first in line
    (its attempt not counted, no cooldown) and the account is filled again after a wait."""
    rt.records.move(
        rec.job_id,
        RecordState.SUBMITTING,
        RecordState.WAITING,
        expect={"sent_at": sent_at},
        submit_attempts=rec.submit_attempts,
    )
    place = rt.guard.backoff(label, rec.job_id, 0.0)
    paused(rt, intent.acks)
    wait_s = rt.durability.wait_ms / 1000
    log.warning(
        "job %s: not sent, %s of %s replicas acknowledged its intent within %s ms; "
        "submits wait until they do",
        rec.job_id,
        intent.acks.acked,
        intent.acks.wanted,
        rt.durability.wait_ms,
    )
    return [show_waiting(rt, rec, label, place), Fill(label, wait_s)]


def paused(rt: Runtime, acks: Acks) -> None:
    """Note for the fleet that submits wait for replicas (kept while waits keep falling short)."""
    now = rt.clock()
    since = now
    try:
        old = rt.redis.get(rt.keys.submits_paused)
        if old:
            since = float(json.loads(old).get("since", now))
    except (ValueError, TypeError):
        pass
    note = {
        "since": since,
        "at": now,
        "acked": acks.acked,
        "wanted": acks.wanted,
        "wait_ms": rt.durability.wait_ms,
    }
    ttl_ms = max(round(SUBMITS_PAUSED_NOTE_S * 1000), 3 * rt.durability.wait_ms)
    rt.redis.set(rt.keys.submits_paused, json.dumps(note), px=ttl_ms)
    rt.durability.paused = True


def resumed(rt: Runtime) -> None:
    """A submit's intent reached enough replicas again: the note goes."""
    rt.redis.delete(rt.keys.submits_paused)
    rt.durability.paused = False
    log.warning("submits go on: replicas acknowledge again")


def pause_reason(note: dict[str, Any]) -> str:
    """The operator's words for a `submits_paused` note."""
    wanted = int(note.get("wanted", 1))
    return (
        f"submits paused: {note.get('acked', 0)} of {wanted} "
        f"{'replica' if wanted == 1 else 'replicas'} acknowledged within "
        f"{note.get('wait_ms', '?')} ms (MJ_REDIS_MIN_REPLICAS): jobs wait, none is sent"
    )


__all__ = ["Intent", "not_durable", "pause_reason", "paused", "resumed", "submitting"]
