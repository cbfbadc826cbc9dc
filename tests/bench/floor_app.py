"""The Celery app of `python -m tests.bench.floor`: one task that does nothing, on a worker that
handles a message as a node does.

The node's per-message settings (`worker.adapter.message_conf.per_message`, which `create_app`
starts from: JSON, late acks, prefetch 1, no STARTED, no extended results, time limits, task
events on) and the same patches of Celery and kombu in the worker's main process. What a
message costs here is what a message costs a node before any of mj-worker's own work: its
delivery to a pool process, its result stored and published, its events. Not its publish (the
bench's own process sends these; in (c) a node publishes about one message a job itself, the
report, whose cost is in the engine's share), nor the node's log filter and broker timeouts:
the floor is, if anything, a little low.

Run as a real worker, e.g. `celery -A tests.bench.floor_app worker -c 4 -E`, configured by
REDIS_URL (broker and results).
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init

from worker.adapter import patches
from worker.adapter.message_conf import per_message

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

app = Celery("floor", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(**per_message(), broker_connection_retry_on_startup=True)


@worker_init.connect
def _patch_the_worker(**_: Any) -> None:
    """The node's patches (its `worker_init`), before the pool forks."""
    patches.for_worker()


@app.task(name="floor.noop")
def noop(i: int) -> dict[str, int]:
    """Nothing: a small result, as a job's report returns one."""
    return {"i": i}
