"""Redis state an operator would see, written the way the engine writes it (for ops tests)."""

from __future__ import annotations

from typing import Any

from worker.jobs import recent
from worker.jobs.record import TERMINAL, RecordState
from worker.jobs.runtime import Runtime


def job_in_flight(rt: Runtime, job_id: str, account: str, prompt: str, progress: int) -> None:
    """A job holding a slot, submitted to TTAPI, `progress` % done."""
    rt.records.create(job_id, kind="imagine", account=account, params={"prompt": prompt})
    assert rt.guard.acquire(account, job_id).granted
    now = rt.clock()
    assert rt.records.move(
        job_id,
        RecordState.NEW,
        RecordState.SUBMITTED,
        ttapi_job_id=f"tt-{job_id}",
        submitted_at_ts=now,
        progress=progress,
    )


def job_waiting(rt: Runtime, job_id: str, account: str, prompt: str) -> None:
    """A job parked on a full account."""
    rt.records.create(job_id, kind="imagine", account=account, params={"prompt": prompt})
    assert rt.guard.acquire(account, job_id).queued
    assert rt.records.move(job_id, RecordState.NEW, RecordState.WAITING, waiting_since=rt.clock())


def job_ended(
    rt: Runtime,
    job_id: str,
    account: str,
    prompt: str,
    *,
    image: str = "",
    video: str = "",
    error: str = "",
) -> None:
    """A job that ended (SUCCESS with `image`, or a video job with the clip `video`, else FAILED
    with `error`), noted as the engine does at every ending."""
    kind = "video" if video else "imagine"
    rt.records.create(job_id, kind=kind, account=account, params={"prompt": prompt})
    now = rt.clock()
    changes: dict[str, Any] = {"submitted_at_ts": now - 4, "finished_at_ts": now}
    if error:
        assert rt.records.move(job_id, RecordState.NEW, RecordState.FAILED, error=error, **changes)
    else:
        result: dict[str, Any] = {"image_url": image, "action": kind, "prompt": prompt}
        result |= {"images": None, "videos": [video]} if video else {"images": [image]}
        assert rt.records.move(
            job_id, RecordState.NEW, RecordState.SUCCESS, result=result, **changes
        )
    recent.note_ended(
        rt.redis, rt.keys, job_id, RecordState.FAILED if error else RecordState.SUCCESS, now
    )


class EngineCalls:
    """Stands in for the two calls the engine makes for the operator side (until it does):
    `note_ended` at each job ending, and `pump_last` at each pump round (a thread here)."""

    def __init__(self, client: Any, keys: Any, every_s: float = 0.5) -> None:
        import threading

        self.client, self.keys, self.every_s = client, keys, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, daemon=True)

    def __enter__(self) -> EngineCalls:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _pump(self) -> None:
        while not self._stop.is_set():
            seconds, micros = self.client.time()
            self.client.set(self.keys.pump_last, f"{int(seconds) + int(micros) / 1e6:.3f}")
            self._stop.wait(self.every_s)

    def ended(self, job_id: str) -> None:
        """Note an ended job's ending from its record."""
        state, at = self.client.hmget(self.keys.job(job_id), ["state", "finished_at_ts"])
        assert state in TERMINAL, (job_id, state)
        recent.note_ended(self.client, self.keys, job_id, state, float(at or 0) or 0.0)
