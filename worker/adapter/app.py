"""The Celery app (the only module-level singleton), configured and wired to its Runtime.

Configured for jobs that must never be lost or run twice: JSON only, late acks, reject on worker
lost, prefetch 1, a visibility timeout above every countdown we schedule (checked at start-up,
since Redis redelivers any message unacked for longer), results kept ≥ 1 day.
"""

from __future__ import annotations

import os
import uuid
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
from kombu.utils.json import dumps, loads

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
    INLINE_ARG_MAX_CHARS,
    INLINE_DATA_URI_MAX_CHARS,
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


INLINE_STUB = "(inline input: kept in the job record)"
#: Namespace of a callback's fixed task id (uuid5 of its job's id and its place).
CALLBACK_IDS = uuid.UUID("5d2b9c3e-8f0a-4c61-9a57-3f1e2b7d6c40")


def redis_timeouts() -> dict[str, Any]:
    """The broker's socket options: a master gone without closing its sockets (a failover, a
    host lost) is left within seconds, and an idle consumer's connection is checked too."""
    return {
        "socket_timeout": REDIS_SOCKET_TIMEOUT_S,
        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_S,
        "socket_keepalive": True,
        "health_check_interval": REDIS_HEALTH_CHECK_S,
    }


def task_signature(task: Any) -> dict[str, Any]:
    """The current request of `task` as a JSON-safe signature (id, chain, callbacks kept, each
    callback with a fixed task id: `fix_callback_ids`).

    Inline images (data URIs) are left out: the job record keeps them, every re-publish of
    the task would carry them through the broker again, and a run that finds the record
    never reads them from its message.
    """
    sig = dict(loads(dumps(dict(task.signature_from_request()))))
    kwargs = sig.get("kwargs")
    if isinstance(kwargs, dict):
        sig["kwargs"] = {k: _slim(v) for k, v in kwargs.items()}
    return fix_callback_ids(sig, str(task.request.id))


def fix_callback_ids(sig: dict[str, Any], job_id: str) -> dict[str, Any]:
    """`sig` (changed in place) with a task id on every link and errback that has none, derived
    from the job's id and the callback's place, also inside a chain or group given as one.

    A job's report may run again (the pump's, after a report killed after Celery stored it or a
    result written to a master that then lost), and each sends the callbacks again: Celery would
    give an id-less `mj.action` a new id each time, a second paid job. Every report is built
    from the signature the record keeps, so fixed ids there make the callback's record dedupe.
    """
    options = sig.get("options")
    if isinstance(options, dict):
        for field in ("link", "link_error"):
            for i, callback in enumerate(options.get(field) or []):
                _fix_id(callback, f"{job_id}/{field}/{i}")
    return sig


def _fix_id(callback: Any, place: str) -> None:
    if not isinstance(callback, dict):
        return
    kind = callback.get("subtask_type")
    if kind in ("chain", "group"):
        for j, task in enumerate((callback.get("kwargs") or {}).get("tasks") or []):
            _fix_id(task, f"{place}/{j}")
    elif kind is None:  # a plain signature (a chord, or a kind not known here, is left alone)
        options = callback.setdefault("options", {})
        if isinstance(options, dict) and not options.get("task_id"):
            options["task_id"] = str(uuid.uuid5(CALLBACK_IDS, place))


def _slim(value: Any) -> Any:
    if isinstance(value, str) and (
        len(value) > INLINE_ARG_MAX_CHARS
        or (value.startswith("data:") and len(value) > INLINE_DATA_URI_MAX_CHARS)
    ):
        return INLINE_STUB
    if isinstance(value, list) and any(_slim(v) is INLINE_STUB for v in value):
        return [_slim(v) for v in value]
    return value


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
