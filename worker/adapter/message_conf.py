"""How a node's Celery handles each message: the settings `create_app` starts from.

Kept apart from the app (whose module builds it on import) so that a bench can run a Celery
worker that handles a message exactly as a node does (`tests/bench/floor_app.py`).
"""

from __future__ import annotations

from typing import Any

from worker.policy import PUBLISH_RETRY, TASK_SOFT_TIME_LIMIT_S, TASK_TIME_LIMIT_S


def per_message() -> dict[str, Any]:
    """The Celery settings that shape what one message costs and how it may fail."""
    return {
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # No args/kwargs in stored results: inputs may be megabytes of inline images, and a
        # result lives for days under `noeviction`. Callers hold their own arguments.
        "result_extended": False,
        # Publishing rides out a Redis restart (a few seconds) instead of failing the step.
        "task_publish_retry_policy": PUBLISH_RETRY,
        # No STARTED: a parked job re-runs often, and its caller sees WAITING / SUBMITTED.
        "task_track_started": False,
        "task_time_limit": TASK_TIME_LIMIT_S,
        "task_soft_time_limit": TASK_SOFT_TIME_LIMIT_S,
        # Events on, so Flower (and `celery events`) show the custom states as they change;
        # not for the internal control tasks (see tasks), nor a `task-sent` per re-publish.
        "worker_send_task_events": True,
        "task_send_sent_event": False,
        # A step in flight when the broker connection drops finishes (it is short) and its
        # message is redelivered, which the job record makes harmless. Cancelling it instead
        # would store REVOKED, and a caller would give up on a job that goes on.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
    }


__all__ = ["per_message"]
