"""The Celery app (the only module-level singleton) and the dispatcher that publishes for it.

Configured as DESIGN.md says: JSON only, late acks, reject on worker lost, prefetch 1, a
visibility timeout above every countdown we schedule (checked at start-up), results kept ≥ 1 day.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Celery
from celery.signals import worker_ready
from kombu.utils.json import dumps, loads

from config.settings import ConfigError, Settings, load_settings
from worker.runtime import Runtime, Timing
from worker.schedules import load_user_schedules


class CeleryDispatcher:
    """Publishes job steps as Celery messages.

    Countdowns become ETAs on Redis's clock (`Runtime.clock`), not this host's: a worker whose
    clock is off would otherwise hold every message it publishes for as long as it is off.
    """

    def __init__(self, app: MJCelery) -> None:
        self.app = app

    def _eta(self, countdown: float) -> datetime | None:
        if countdown <= 0:
            return None
        return datetime.fromtimestamp(self.app.runtime.clock() + countdown, UTC)

    def resume(self, job_id: str, countdown: float = 0.0) -> None:
        """Re-publish a parked task from the signature stored in its record.

        Without the caller's `expires`: the job engine applies it itself (a job not submitted
        by then is revoked), while a job TTAPI already ran must still deliver its result.
        """
        rec = self.app.runtime.records.load(job_id)
        if rec is None or not rec.sig:
            return
        sig = self.app.signature(rec.sig)
        sig.options.pop("expires", None)
        sig.apply_async(eta=self._eta(countdown))

    def poll(self, job_id: str, seq: int, countdown: float) -> None:
        """Schedule one poll step."""
        self.app.send_task("mj.poll", args=[job_id, seq], eta=self._eta(countdown))

    def fill(self, label: str, countdown: float) -> None:
        """Hand out an account's free slots after a cooldown."""
        self.app.send_task("mj.fill", args=[label], eta=self._eta(countdown))


class MJCelery(Celery):
    """Celery with the mj-worker settings and a per-process `Runtime`."""

    mj_settings: Settings
    _runtime: Runtime | None = None
    _runtime_pid: int = 0

    @property
    def runtime(self) -> Runtime:
        """This process's Runtime (rebuilt after a fork: sockets are never shared)."""
        if self._runtime is None or self._runtime_pid != os.getpid():
            import redis

            client = redis.Redis.from_url(self.mj_settings.redis_url, decode_responses=True)
            self._runtime = Runtime.build(self.mj_settings, client, CeleryDispatcher(self))
            self._runtime_pid = os.getpid()
        return self._runtime


def task_signature(task: Any) -> dict[str, Any]:
    """The current request of `task` as a JSON-safe signature (id, chain, callbacks kept)."""
    return dict(loads(dumps(dict(task.signature_from_request()))))


def create_app(settings: Settings | None = None) -> MJCelery:
    """Build and configure the Celery app; refuses a visibility timeout below any countdown."""
    settings = settings or load_settings()
    timing = Timing.from_settings(settings)
    longest = timing.longest_countdown(settings.mj_pump_interval_s)
    if longest >= settings.mj_visibility_timeout_s:
        raise ConfigError(
            f"MJ_VISIBILITY_TIMEOUT_S: {settings.mj_visibility_timeout_s}s is not above the "
            f"longest countdown ({longest:.0f}s); Redis would redeliver scheduled messages")
    app = MJCelery("mj-worker", broker=settings.redis_url, backend=settings.redis_url,
                   include=["tasks"])
    app.mj_settings = settings
    transport = {"visibility_timeout": settings.mj_visibility_timeout_s}
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"],
        result_accept_content=["json"], task_acks_late=True, task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1, broker_transport_options=transport,
        result_backend_transport_options=transport, result_expires=settings.mj_result_expires_s,
        broker_connection_retry_on_startup=True, task_track_started=True, result_extended=True,
        timezone="UTC", enable_utc=True, task_time_limit=300, task_soft_time_limit=240,
        worker_send_task_events=False, worker_cancel_long_running_tasks_on_connection_loss=True,
        beat_schedule={
            "mj-pump": {"task": "mj.pump",
                        "schedule": timedelta(seconds=settings.mj_pump_interval_s)},
            "mj-refresh-accounts": {"task": "mj.refresh_accounts",
                                    "schedule": timedelta(minutes=5)},
        },
    )
    if settings.mj_schedule_file:  # a bad file stops start-up with a ConfigError saying where
        app.conf.beat_schedule.update(load_user_schedules(settings.mj_schedule_file))
    return app



@worker_ready.connect
def _refresh_on_start(sender: Any = None, **_: Any) -> None:
    """Learn each account's real cap (`/info` max_queue) as soon as a worker starts."""
    if sender is not None:
        sender.app.send_task("mj.refresh_accounts")


app = create_app()
