"""What the HTTP API answers about a job: its status, where it is, each step's result.

A job is a pipeline of steps (the first task, then each `then` step), each a Celery task with
a job record. Its status is read from the records (the truth the engine keeps) and, for a step
that has none yet or never will (refused before its record, `mj.download`), from the result
backend:

    waiting    no step has reached TTAPI yet (queued, or parked: the account is full)
    submitted  TTAPI has the current step
    succeeded  the last step ended in SUCCESS (`result` is its job result)
    failed     a step failed (`error` in TTAPI's words, or why it was refused)
    canceled   a step was revoked or canceled before TTAPI had it
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from worker.adapter.api_jobs import StepState
from worker.jobs.record import IN_FLIGHT, JobRecord, RecordState
from worker.jobs.states import TaskState

Status = Literal["waiting", "submitted", "succeeded", "failed", "canceled"]
ENDED: tuple[str, ...] = ("succeeded", "failed", "canceled")
_OF_RECORD: dict[str, Status] = {
    RecordState.NEW: "waiting",
    RecordState.WAITING: "waiting",
    RecordState.SUBMITTING: "submitted",
    RecordState.SUBMITTED: "submitted",
    RecordState.AMBIGUOUS: "submitted",
    RecordState.SUCCESS: "succeeded",
    RecordState.FAILED: "failed",
    RecordState.REVOKED: "canceled",
}
_OF_TASK: dict[str, Status] = {
    TaskState.PENDING: "waiting",
    TaskState.WAITING: "waiting",
    TaskState.SUBMITTED: "submitted",
    TaskState.SUCCESS: "succeeded",
    TaskState.FAILURE: "failed",
    TaskState.REVOKED: "canceled",
}


class Step(BaseModel):
    """One step of a job: its task id, what it does, its status, and its job result."""

    id: str = Field(description="the step's Celery task id (Flower, `mjw show ID`)")
    name: str = Field(description="imagine, upsample2, video, ...")
    status: Status
    progress: int = Field(0, ge=0, le=100)
    result: dict[str, Any] | None = None
    error: str | None = None


class CallbackAttempt(BaseModel):
    """One try to deliver the job's callback."""

    at: str = Field(description="ISO-8601 UTC")
    status: int | None = Field(None, description="the receiver's HTTP status (None: no answer)")
    error: str | None = None


class Job(BaseModel):
    """A job of the HTTP API."""

    id: str
    kind: str
    status: Status
    position: int | None = Field(None, description="waiting: its place in its account's line")
    progress: int = Field(0, ge=0, le=100, description="the current step's TTAPI progress")
    steps: list[Step]
    result: dict[str, Any] | None = Field(None, description="the last step's job result")
    error: str | None = None
    priority: str = "normal"
    created_at: str
    metadata: dict[str, Any] | None = None
    callback_url: str | None = None
    callbacks: list[CallbackAttempt] = Field(default_factory=list)


class JobList(BaseModel):
    """A page of the caller's jobs, newest first."""

    items: list[Job]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page")


@dataclass(frozen=True)
class StepFacts:
    """What is known of one step: its record (if any) and its task's visible state."""

    id: str
    name: str
    record: JobRecord | None
    task: StepState


def step_view(facts: StepFacts) -> Step:
    """One step's status: its record's, else its task's."""
    rec, task = facts.record, facts.task
    if rec is not None and rec.state in _OF_RECORD:
        status = _OF_RECORD[rec.state]
        result = rec.result or None if status == "succeeded" else None
        error = rec.error or None if status in ("failed", "canceled") else None
        progress = 100 if status == "succeeded" else int(rec.progress)
        if status == "succeeded" and result is None and isinstance(task.result, dict):
            result = task.result
        return Step(
            id=facts.id,
            name=facts.name,
            status=status,
            progress=progress,
            result=result,
            error=error,
        )
    status = _OF_TASK.get(task.state, "waiting")
    return Step(
        id=facts.id,
        name=facts.name,
        status=status,
        progress=100 if status == "succeeded" else int((task.info or {}).get("progress") or 0),
        result=task.result if status == "succeeded" and isinstance(task.result, dict) else None,
        error=task.error if status == "failed" else ("canceled" if status == "canceled" else None),
    )


def job_status(steps: list[Step]) -> tuple[Status, int]:
    """The job's status and the index of the step that decides it."""
    for i, step in enumerate(steps):
        if step.status != "succeeded":
            return step.status, i
    return "succeeded", len(steps) - 1


def position_of(facts: StepFacts) -> int | None:
    """A waiting step's place in its account's line (1 = next), as its task shows it."""
    info = facts.task.info or {}
    if facts.task.state == TaskState.WAITING and isinstance(info.get("position"), int):
        return int(info["position"])
    return None


def in_flight(rec: JobRecord | None) -> bool:
    """Whether TTAPI may have this step (a submit went out): it cannot be recalled."""
    return rec is not None and rec.state in IN_FLIGHT


__all__ = ["ENDED", "CallbackAttempt", "Job", "JobList", "Status", "Step", "StepFacts"]
