"""Redis state an operator would see, written the way the engine writes it (for ops tests)."""

from __future__ import annotations

from typing import Any

from worker.jobs import recent
from worker.jobs.records import FAILED, NEW, SUBMITTED, SUCCESS, WAITING
from worker.runtime import Runtime


def job_in_flight(rt: Runtime, job_id: str, account: str, prompt: str, progress: int) -> None:
    """A job holding a slot, submitted to TTAPI, `progress` % done."""
    rt.records.create(job_id, kind="imagine", account=account, params={"prompt": prompt})
    assert rt.guard.acquire(account, job_id).granted
    now = rt.clock()
    assert rt.records.move(
        job_id, NEW, SUBMITTED, ttapi_job_id=f"tt-{job_id}", submitted_at_ts=now, progress=progress
    )


def job_waiting(rt: Runtime, job_id: str, account: str, prompt: str) -> None:
    """A job parked on a full account."""
    rt.records.create(job_id, kind="imagine", account=account, params={"prompt": prompt})
    assert rt.guard.acquire(account, job_id).queued
    assert rt.records.move(job_id, NEW, WAITING, waiting_since=rt.clock())


def job_ended(
    rt: Runtime, job_id: str, account: str, prompt: str, *, image: str = "", error: str = ""
) -> None:
    """A job that ended (SUCCESS with `image`, else FAILED with `error`), noted as the engine
    does at every ending."""
    rt.records.create(job_id, kind="imagine", account=account, params={"prompt": prompt})
    now = rt.clock()
    changes: dict[str, Any] = {"submitted_at_ts": now - 4, "finished_at_ts": now}
    if error:
        assert rt.records.move(job_id, NEW, FAILED, error=error, **changes)
    else:
        result = {"image_url": image, "images": [image], "action": "imagine", "prompt": prompt}
        assert rt.records.move(job_id, NEW, SUCCESS, result=result, **changes)
    recent.note_ended(rt.redis, rt.keys, job_id, FAILED if error else SUCCESS, now)
