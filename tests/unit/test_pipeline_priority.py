"""A pipeline's messages carry its job's priority: a `high` entry overtakes queued `low` ones in
the broker (kombu's Redis priority lists), before the guard's own order applies."""

from __future__ import annotations

import uuid

import pytest
from celery import Celery
from kombu import Connection

from worker.adapter.pipelines import MESSAGE_PRIORITY, build_chain, message_priority
from worker.devtools.embedded import RedisServer


@pytest.fixture
def app() -> Celery:
    return Celery("t", broker="memory://", backend="cache+memory://")


@pytest.mark.parametrize("priority", ["high", "normal", "low"])
def test_every_step_of_a_chain_carries_the_first_jobs_priority(app: Celery, priority: str) -> None:
    sig = build_chain(
        app, "imagine", {"prompt": "a cat", "priority": priority}, ["upsample2", "video:high"]
    )
    steps = sig.tasks  # type: ignore[attr-defined]
    assert [s.options["priority"] for s in steps] == [MESSAGE_PRIORITY[priority]] * 3
    assert steps[0].kwargs["priority"] == priority
    assert "priority" not in steps[1].kwargs  # the follow-up inherits it from its parent


def test_a_job_that_names_no_priority_is_published_as_normal(app: Celery) -> None:
    sig = build_chain(app, "imagine", {"prompt": "a cat"})
    assert sig.options["priority"] == MESSAGE_PRIORITY["normal"] == message_priority(None)


@pytest.mark.e2e
def test_a_high_entry_overtakes_queued_low_and_normal_ones_on_a_real_redis_broker(
    redis_server: RedisServer,
) -> None:
    url = redis_server.url.rsplit("/", 1)[0] + "/9"  # a database of its own
    app = Celery("t", broker=url, backend=url)
    queue = f"q-{uuid.uuid4().hex[:8]}"
    sent = {}
    for priority in ("low", "normal", "low", "high", "normal"):
        sig = build_chain(app, "imagine", {"prompt": priority, "priority": priority})
        sent[sig.apply_async(queue=queue).id] = priority
    with Connection(url) as conn:
        channel = conn.default_channel
        got = []
        while (message := channel.basic_get(queue)) is not None:
            got.append(sent[message.headers["id"]])
        conn.default_channel.client.flushdb()
    assert got == ["high", "normal", "normal", "low", "low"]
