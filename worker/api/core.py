"""What the HTTP API's job handling shares: the `Api` bundle built once per process (a Runtime,
the way into Celery, the idempotency keys), the `CeleryPort` it publishes through, and `Busy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from worker.adapter.api_jobs import StepState
from worker.api.idempotency import Idempotency
from worker.jobs.effects import Effects
from worker.jobs.runtime import Runtime


class CeleryPort(Protocol):
    """How jobs reach Celery (`worker.adapter.api_jobs.CeleryJobs`; a fake in unit tests),
    and how the effects of the job steps the API takes (a cancel) are carried out."""

    def accepts(self, kind: str) -> set[str]: ...
    def publish(self, first: str, kwargs: dict[str, Any], then: Any, ids: Any) -> None: ...
    def states(self, ids: Any) -> list[StepState]: ...
    def revoke(self, ids: Any) -> None: ...
    def carry(self, effects: Effects) -> None: ...


class Busy(Exception):
    """The request's Idempotency-Key is in flight in another request."""


@dataclass
class Api:
    """Everything the API's handlers use, built once per process at the edge."""

    rt: Runtime
    celery: CeleryPort
    idem: Idempotency

    @classmethod
    def build(cls, rt: Runtime, celery: CeleryPort) -> Api:
        """Wire the API over a Runtime and a way into Celery."""
        return cls(rt, celery, Idempotency(rt.redis, rt.keys))


__all__ = ["Api", "Busy", "CeleryPort"]
