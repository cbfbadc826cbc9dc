"""An account's holders looked at one by one: reap a gone job's slot, renew a lease at half
time, revive a lost step. The engine does it for the accounts it holds (`EngineCore.scan`), the
pump for the accounts no engine holds.
"""

from __future__ import annotations

import logging

from worker.jobs.effects import Effects, PollAt, Submit
from worker.jobs.record import TERMINAL, RecordState
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.jobs.settle import hand_on
from worker.jobs.unsent import lost
from worker.policy import LEASE_RENEW_LEFT

log = logging.getLogger(__name__)


# What the pump reads of each record: a few fields, for thousands of records a round.
HOLDER_FIELDS = (
    "state",
    "account",
    "hold_until",
    "next_poll_at",
    "poll_seq",
    "sent_at",
    "woken_at",
)


def look_at_holder(
    rt: Runtime,
    label: str,
    job_id: str,
    rec: JobRecord | None,
    ms_left: int,
    now: float,
    *,
    revive: bool = True,
) -> tuple[str, Effects]:
    """Renew a holder's lease when half of it is spent, revive its lost step, or reap the slot
    of a job that is gone; what was done: "reaped", "revived" or "", and what follows.

    A lease outlives the job, so renewing at half time keeps it alive for as long as holders
    are looked at, at one write per lease and not one per look. A submit that outlived its
    HTTP timeouts (its sender died) is reconciled. Without `revive` (the engine, which
    schedules its own polls and submits) lost polls and submits are left to the caller.
    """
    stall = rt.timing.stall_s
    if rec is not None and rec.state in TERMINAL and rec.hold_until > now:
        return "", []  # ended blind before occupancy existed (an older version): it waits it out
    if rec is None or rec.state in TERMINAL or rec.account != label:
        return "reaped", hand_on(rt, label, rt.guard.release(label, job_id))
    if 0 < ms_left < LEASE_RENEW_LEFT * 1000 * rt.timing.lease_s:
        # not a probe's answer
        rt.guard.renew(label, job_id, confirms=rec.state == RecordState.SUBMITTED)
    if (
        rec.state in (RecordState.SUBMITTED, RecordState.AMBIGUOUS)
        and now > rec.next_poll_at + stall
        and revive
    ):
        # next_poll_at moves on too: a revived step that is merely slow (a loaded machine)
        # must not be revived again at every round, each revival adding one more message.
        if rt.records.cas(
            job_id, {"poll_seq": rec.poll_seq}, poll_seq=rec.poll_seq + 1, next_poll_at=now
        ):
            log.warning("job %s: poll chain lost; reviving it", job_id)
            return "revived", [PollAt(job_id, rec.poll_seq + 1, 0.0, label)]
    elif (
        rec.state == RecordState.SUBMITTING and now - rec.sent_at > rt.timing.submit_limit_s + stall
    ):
        full = rt.records.load(job_id) or rec  # its deadline comes from its params
        if rt.records.cas(
            job_id,
            {"state": RecordState.SUBMITTING, "poll_seq": rec.poll_seq},
            state=RecordState.AMBIGUOUS,
            **lost(rt, full, now),
        ):
            log.warning("job %s: its submitter died mid-submit; reconciling", job_id)
            return "revived", [PollAt(job_id, rec.poll_seq + 1, 0.0, label)]
    elif (
        revive
        and rec.state not in (RecordState.SUBMITTED, RecordState.AMBIGUOUS, RecordState.SUBMITTING)
        and (now - rec.woken_at > stall)
    ):
        rt.records.update(job_id, woken_at=now)
        return "revived", [Submit(label, job_id)]  # handed a slot, but nobody submitted it
    return "", []
