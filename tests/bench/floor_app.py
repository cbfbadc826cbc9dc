"""The Celery app of `python -m tests.bench.floor`: one task that does nothing, on a worker that
handles a message as a node does.

The node's per-message settings (`worker.adapter.app.create_app`): JSON, late acks, prefetch 1,
no STARTED, no extended results, time limits, task events on, and the same patches of Celery
and kombu in the worker's main process. What a message costs here is what a message costs a
node before any of mj-worker's own work: its delivery to a pool process, its result stored and
published, its events. Not its publish (the bench's own process sends these; in (c) a node
publishes about one message a job itself, the report, whose cost is in the engine's share),
nor the node's log filter and broker timeouts: the floor is, if anything, a little low.

Run as a real worker, e.g. `celery -A tests.bench.floor_app worker -c 4 -E`, configured by
REDIS_URL (broker and results).
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init

from worker.adapter import patches
from worker.policy import PUBLISH_RETRY, TASK_SOFT_TIME_LIMIT_S, TASK_TIME_LIMIT_S

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

app = Celery("floor", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    result_extended=False,
    task_track_started=False,
    worker_send_task_events=True,
    task_send_sent_event=False,
    broker_connection_retry_on_startup=True,
    task_publish_retry_policy=PUBLISH_RETRY,
    task_time_limit=TASK_TIME_LIMIT_S,
    task_soft_time_limit=TASK_SOFT_TIME_LIMIT_S,
    worker_cancel_long_running_tasks_on_connection_loss=False,
)


@worker_init.connect
def _patch_the_worker(**_: Any) -> None:
    """The node's patches (its `worker_init`), before the pool forks."""
    patches.for_worker()


@app.task(name="floor.noop")
def noop(i: int) -> dict[str, int]:
    """Nothing: a small result, as a job's report returns one."""
    return {"i": i}
