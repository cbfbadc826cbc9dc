"""Liveness against real workers: heartbeats per queue, and a killed worker seen as degraded
within two pump intervals."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest

from config.settings import Settings
from tests.support.stack import Stack
from worker.ops import liveness
from worker.ops.view import OpsView

pytestmark = pytest.mark.e2e
KEY = "sk-e2e-liveness-0001"
PUMP_S = 1.0


def view_of(stack: Stack) -> OpsView:
    settings = Settings(redis_url=stack.env["REDIS_URL"], mj_pump_interval_s=PUMP_S)
    return OpsView.from_url(settings)


def test_workers_show_per_queue_and_a_killed_one_is_degraded_within_two_pump_intervals(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(
        keys=[KEY],
        nodes=2,
        concurrency=1,
        beat=False,
        queues=["celery", "mj.control"],
        env={"MJ_PUMP_INTERVAL_S": str(PUMP_S)},
    )
    view = view_of(stack)
    stack.wait_for(lambda: liveness.read(view).consumers == {"celery": 1, "mj.control": 1})
    hosts = {w.hostname.split("@")[0]: w for w in liveness.read(view).workers}
    assert hosts["node0"].queues == ["celery"] and hosts["node1"].queues == ["mj.control"]
    stack.nodes[0].kill(signal.SIGKILL)
    stack.nodes[0].proc.wait()  # type: ignore[union-attr]
    stack.redis.rpush("celery", "a message nobody takes")
    killed = time.monotonic()
    stack.wait_for(lambda: liveness.verdict(liveness.read(view))[0] == "degraded", 10)
    assert time.monotonic() - killed <= 2 * PUMP_S
    assert liveness.verdict(liveness.read(view))[1] == [
        "no worker consumes celery (1 message waiting)"
    ]
    stack.redis.delete("celery")


def test_a_worker_stopped_gracefully_leaves_at_once(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(keys=[KEY], concurrency=1, beat=False)
    view = view_of(stack)
    stack.wait_for(lambda: liveness.read(view).consumers.get("mj.control") == 1)
    stack.nodes[0].stop()
    assert liveness.read(view).workers == []
