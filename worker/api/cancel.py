"""`POST /v1/jobs/{id}/cancel`: a job TTAPI does not have yet never reaches it; one it has is a
409 (TTAPI cannot recall a job: it runs to its end, and is paid for).
"""

from __future__ import annotations

from contextlib import suppress

from worker.adapter.api_jobs import BrokerUnavailable
from worker.api.core import Api
from worker.api.problems import ApiProblem
from worker.api.reads import view
from worker.api.tokens import Token
from worker.api.views import ENDED, Job
from worker.jobs.effects import Report
from worker.jobs.record import UNSENT, RecordState
from worker.jobs.revoke import cancel as cancel_record


def cancel(api: Api, token: Token, job_id: str) -> Job:
    """Cancel a job TTAPI does not have yet (it never reaches TTAPI); 409 for one it has, or
    one that has ended."""
    rt = api.rt
    job = view(api, token, job_id)
    if job.status in ENDED:
        raise ApiProblem(409, "Conflict", f"job {job_id} has already ended ({job.status})")
    current = next(s for s in job.steps if s.status != "succeeded")
    if job.status == "submitted":
        raise _submitted(job_id)
    rec = rt.records.create(current.id, RecordState.NEW)
    cancelled, effects = (
        cancel_record(rt, rec, "canceled through the API") if rec.state in UNSENT else (False, [])
    )
    if cancelled:
        if rec.sig:  # its task is parked: re-published, it stores REVOKED and the chain stops
            effects = [Report(current.id, sig=rec.sig), *effects]
        api.celery.carry(effects)
        with suppress(BrokerUnavailable):  # a courtesy: the REVOKED record stops the job
            api.celery.revoke([s.id for s in job.steps if s.status != "succeeded"])
        return view(api, token, job_id)
    fresh = rt.records.load(current.id)
    if fresh is not None and fresh.state not in UNSENT and fresh.state != RecordState.REVOKED:
        raise (
            _submitted(job_id)
            if fresh.state not in (RecordState.SUCCESS, RecordState.FAILED)
            else ApiProblem(
                409, "Conflict", f"job {job_id}'s step {current.name} has already ended"
            )
        )
    return view(api, token, job_id)


def _submitted(job_id: str) -> ApiProblem:
    return ApiProblem(
        409,
        "Conflict",
        f"job {job_id} is submitted to TTAPI, which cannot recall it: it runs to its end "
        "(and is paid for)",
        kind="cannot-recall",
    )


__all__ = ["cancel"]
