"""The Celery app (the only module-level singleton), configured and wired to its Runtime.

Configured for jobs that must never be lost or run twice: JSON only, late acks, reject on worker
lost, prefetch 1, a visibility timeout above every countdown we schedule (checked at start-up,
since Redis redelivers any message unacked for longer), results kept ≥ 1 day.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from celery import Celery
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    beat_init,
    celeryd_init,
    worker_init,
    worker_ready,
)
from kombu import Queue

from config.settings import ConfigError, Settings, load_settings
from worker.adapter import patches
from worker.adapter.dispatch import CeleryDispatcher
from worker.adapter.engine_step import EngineStep
from worker.adapter.heartbeat import Heartbeat
from worker.adapter.logs import configure_logging
from worker.adapter.message_conf import per_message
from worker.adapter.schedules import load_user_schedules
from worker.jobs.runtime import Runtime, redis_client
from worker.jobs.timing import Timing
from worker.policy import (
    REDIS_CONNECT_TIMEOUT_S,
    REDIS_HEALTH_CHECK_S,
    REDIS_SOCKET_TIMEOUT_S,
    REFRESH_ACCOUNTS_S,
)

DEFAULT_QUEUE = "celery"  # Celery's default: user tasks, where other services send them
CONTROL_TASKS = ("mj.poll", "mj.tick", "mj.fill", "mj.pump", "mj.refresh_accounts")


class MJCelery(Celery):
    """Celery with the mj-worker settings and a per-process `Runtime`."""

    mj_settings: Settings
    mj_hostname: str | None = None  # the worker node's name (events are sent under it)
    _runtime: Runtime | None = None
    _dispatcher: CeleryDispatcher | None = None
    _runtime_pid: int = 0

    @property
    def dispatcher(self) -> CeleryDispatcher:
        """This process's dispatcher: what carries out the effects of its job steps."""
        rt = self.runtime
        if self._dispatcher is None or self._dispatcher.rt is not rt:
            self._dispatcher = CeleryDispatcher(self, rt)
        return self._dispatcher

    def adopt(self, rt: Runtime) -> None:
        """Make `rt` this process's Runtime (a node's engine process: the task runs of the
        reports it carries out in place share the engine's)."""
        self._runtime, self._runtime_pid = rt, os.getpid()

    @property
    def runtime(self) -> Runtime:
        """This process's Runtime (rebuilt after a fork: sockets are never shared)."""
        if self._runtime is None or self._runtime_pid != os.getpid():
            rt = Runtime.build(self.mj_settings, redis_client(self.mj_settings))
            self._runtime, self._runtime_pid = rt, os.getpid()
        return self._runtime


def redis_timeouts() -> dict[str, Any]:
    """The broker's socket options: a master gone without closing its sockets (a failover, a
    host lost) is left within seconds, and an idle consumer's connection is checked too."""
    return {
        "socket_timeout": REDIS_SOCKET_TIMEOUT_S,
        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_S,
        "socket_keepalive": True,
        "health_check_interval": REDIS_HEALTH_CHECK_S,
    }


def create_app(settings: Settings | None = None) -> MJCelery:
    """Build and configure the Celery app; refuses a visibility timeout below any countdown."""
    settings = settings or load_settings()
    timing = Timing.from_settings(settings)
    longest = timing.longest_countdown()
    if longest >= settings.mj_visibility_timeout_s:
        raise ConfigError(
            f"MJ_VISIBILITY_TIMEOUT_S: {settings.mj_visibility_timeout_s}s is not above the "
            f"longest countdown ({longest:.0f}s); Redis would redeliver scheduled messages"
        )
    target = settings.redis_target()
    url = target.celery_url()  # under sentinel://, the db and password on every part
    app = MJCelery("mj-worker", broker=url, backend=url, include=["tasks"])
    app.mj_settings = settings
    transport = {"visibility_timeout": settings.mj_visibility_timeout_s, **redis_timeouts()}
    transport |= target.transport_options(REDIS_CONNECT_TIMEOUT_S)
    app.conf.update(
        **per_message(),
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        # The result backend reads its timeouts from settings of its own, not the options.
        redis_socket_timeout=REDIS_SOCKET_TIMEOUT_S,
        redis_socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
        redis_socket_keepalive=True,
        redis_backend_health_check_interval=REDIS_HEALTH_CHECK_S,
        result_expires=settings.mj_result_expires_s,
        broker_connection_retry_on_startup=True,
        timezone="UTC",
        enable_utc=True,
        task_default_queue=DEFAULT_QUEUE,
        task_queues=[Queue(DEFAULT_QUEUE), Queue(settings.mj_control_queue)],
        task_routes={name: {"queue": settings.mj_control_queue} for name in CONTROL_TASKS},
        # Beat passes each user schedule's run the time it was due (worker.adapter.schedule_slots).
        beat_scheduler="worker.adapter.schedule_slots:SlotScheduler",
        beat_schedule={
            "mj-pump": {
                "task": "mj.pump",
                "schedule": timedelta(seconds=settings.mj_pump_interval_s),
            },
            "mj-refresh-accounts": {
                "task": "mj.refresh_accounts",
                "schedule": timedelta(seconds=REFRESH_ACCOUNTS_S),
            },
        },
    )
    if settings.mj_schedule_file:  # a bad file stops start-up with a ConfigError saying where
        app.conf.beat_schedule.update(load_user_schedules(settings.mj_schedule_file))
    app.steps["consumer"].add(Heartbeat)  # workers online per queue (worker.adapter.heartbeat)
    app.steps["worker"].add(EngineStep)  # the node's engine: polls, fills, submits
    return app


@after_setup_logger.connect
@after_setup_task_logger.connect
def _configure_logging(logger: Any = None, **_: Any) -> None:
    """MJ_LOG_FORMAT (json or text) and the key-redacting filter on Celery's loggers too."""
    configure_logging(app.mj_settings, logger)


@worker_init.connect
def _patch_the_worker(**_: Any) -> None:
    """Celery's and kombu's patches, in the worker's main process before its pool forks."""
    patches.for_worker()


@beat_init.connect
def _patch_beat(**_: Any) -> None:
    """Beat publishes through kombu: its patches for publishers."""
    patches.for_publisher()


@celeryd_init.connect
def _note_the_node_name(sender: Any = None, **_: Any) -> None:
    """The worker node's name, in its main process and (forked) pool processes: task events
    are sent under it, so Flower shows one worker per node, not one per process."""
    if sender:
        app.mj_hostname = str(sender)


@worker_ready.connect
def _refresh_on_start(sender: Any = None, **_: Any) -> None:
    """Learn each account's real cap (`/info` max_queue) as soon as a worker starts."""
    if sender is not None:
        sender.app.send_task("mj.refresh_accounts")


app = create_app()
