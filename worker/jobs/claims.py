"""Which record a TTAPI job belongs to: one TTAPI job id, one record, ever.

Every way a record learns its TTAPI job (its submit's answer, a job found in TTAPI's history,
a webhook callback) first claims the job id (`SET NX`, or already its own); a claim is never
taken over. Two records with the same prompt whose answers were lost together may each end up
with the other's job (look-alikes: the same prompt and action, each paid once), but never both
with one, and a record that finished never shares its job with another.

A callback that comes while the record's submit is under way is kept on the record (`hooked`):
the submit's answer, or the reconcile after a lost one, uses it.

A job no record can track (the answer of an attempt that a later one replaced) was paid for
and runs at TTAPI all the same: it is claimed for the record that sent it, logged, and counted
as occupancy (one place fewer for its longest life, given back by a probe TTAPI accepts).
"""

from __future__ import annotations

import logging

from worker.jobs.effects import Effects
from worker.jobs.records import ClaimNote, JobRecord
from worker.jobs.refusals import unresolved
from worker.jobs.runtime import Runtime
from worker.jobs.settle import hand_on
from worker.jobs.timing import timeout_s
from worker.policy import CLAIM_TTL_S

log = logging.getLogger(__name__)


def claim(rt: Runtime, job_id: str, ttapi_job_id: str) -> bool:
    """Claim `ttapi_job_id` for `job_id`; False when another record owns it."""
    key = rt.keys.claim(ttapi_job_id)
    if rt.redis.set(key, job_id, ex=CLAIM_TTL_S, nx=True):
        return True
    return owner(rt, ttapi_job_id) == job_id


def note(rt: Runtime, ttapi_job_id: str, label: str, skew: tuple[str, int] | None) -> ClaimNote:
    """The claim of `ttapi_job_id` (and `label`'s clock skew, if learned) as the submit's answer
    writes them beside its compare-and-set (`RecordStore.move_claimed`): the same `SET NX`."""
    return ClaimNote(rt.keys.claim(ttapi_job_id), CLAIM_TTL_S, rt.keys.skew(label), skew)


def owner(rt: Runtime, ttapi_job_id: str) -> str | None:
    """The record that claimed `ttapi_job_id`, if any."""
    found = rt.redis.get(rt.keys.claim(ttapi_job_id))
    return str(found) if found is not None else None


def hooked(rt: Runtime, rec: JobRecord, ttapi_job_id: str) -> bool:
    """A callback for `rec` (its token) named `ttapi_job_id` while its submit is under way
    (SUBMITTING): proof of which TTAPI job is ours. Claim it and keep it on the record for the
    submit's answer, or the reconcile after a lost one; False if the record moved on meanwhile
    (or another record owns the job)."""
    if not claim(rt, rec.job_id, ttapi_job_id):
        return False
    expect = {"state": rec.state, "sent_at": rec.sent_at, "ttapi_job_id": ""}
    return rt.records.cas(rec.job_id, expect, hooked_job_id=ttapi_job_id)


def untracked(rt: Runtime, rec: JobRecord, label: str, ttapi_job_id: str) -> Effects:
    """TTAPI created `ttapi_job_id` for `rec`, but no record can track it any more (a later
    attempt replaced the one that sent it): keep it ours, say so, and keep its place."""
    claim(rt, rec.job_id, ttapi_job_id)
    log.error(
        "job %s: TTAPI job %s answered after its attempt was replaced; it was paid for and "
        "runs untracked (its place is counted as occupancy until it ends)",
        rec.job_id,
        ttapi_job_id,
    )
    place = f"untracked:{ttapi_job_id}"
    if not rt.guard.acquire(label, place).granted:
        # The account is full: TTAPI itself will refuse the next submit (499), and the guard
        # learns the place from that, as it does for another client's jobs.
        rt.guard.release(label, place)
        return []
    life = timeout_s(rec) * rt.timing.time_scale + rt.timing.deadline_grace_s
    return hand_on(rt, label, unresolved(rt, rec, label, life, holder=place))


__all__ = ["claim", "hooked", "note", "owner", "untracked"]
