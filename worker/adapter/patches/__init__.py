"""What mj-worker changes inside Celery and kombu: each module patches one thing, idempotently,
and only when asked: importing `worker` or `tasks` patches nothing.

Each module's `apply()` checks the library version it was written for. They are applied where
they are needed: `for_worker()` in a worker's main process (its `worker_init`, before the pool
forks), `for_publisher()` in processes that publish through kombu (beat, web, the webhook
receiver, the engine, the CLI). `revoke_command.apply(hook)` is the job tasks' own (`tasks.jobs`).
"""

from __future__ import annotations

from worker.adapter.patches import hotpath, kombu_compat


def for_worker() -> None:
    """A worker: both trims of `hotpath` and the Redis-restart workaround."""
    hotpath.apply(runs_tasks=True)
    kombu_compat.apply()


def for_publisher() -> None:
    """A process that publishes but runs no task: one kombu client per channel, and the
    Redis-restart workaround for its connections."""
    hotpath.apply(runs_tasks=False)
    kombu_compat.apply()


def for_engine() -> None:
    """A node's engine: it publishes, and runs the reports of the jobs it saw end through
    Celery's tracer, so its `Ignore` is made cheap as a worker's is."""
    hotpath.apply(runs_tasks=True)
    kombu_compat.apply()


__all__ = ["for_engine", "for_publisher", "for_worker"]
