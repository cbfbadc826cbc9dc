"""Liveness: workers online per queue (heartbeats), queue depths and the pump's age."""

from __future__ import annotations

import json
from typing import Any

import fakeredis
import pytest

from config.settings import Settings
from worker.adapter.heartbeat import HeartbeatWriter, interval_s
from worker.keys import Keys
from worker.ops import liveness
from worker.ops.view import OpsView


@pytest.fixture
def view() -> OpsView:
    settings = Settings(mj_pump_interval_s=2.0)
    return OpsView.on(settings, fakeredis.FakeRedis(decode_responses=True))


def writer(view: OpsView, host: str, queues: list[str]) -> HeartbeatWriter:
    return HeartbeatWriter(view.redis, view.keys, host, lambda: queues, 0.5)


def age_heartbeat(view: OpsView, host: str, seconds: float) -> None:
    beat = json.loads(str(view.redis.hget(view.keys.workers, host)))
    beat["at"] -= seconds
    beat["since"] -= seconds
    view.redis.hset(view.keys.workers, host, json.dumps(beat))


def test_a_worker_that_beats_is_online_for_the_queues_it_consumes(view: OpsView) -> None:
    writer(view, "user@a", ["celery"]).beat()
    writer(view, "control@a", ["mj.control"]).beat()
    live = liveness.read(view)
    assert [(w.hostname, w.queues, w.online) for w in live.workers] == [
        ("control@a", ["mj.control"], True),
        ("user@a", ["celery"], True),
    ]
    assert live.consumers == {"celery": 1, "mj.control": 1}


def test_a_heartbeat_older_than_six_intervals_counts_as_gone(view: OpsView) -> None:
    writer(view, "w@a", ["celery", "mj.control"]).beat()
    age_heartbeat(view, "w@a", 3.1)  # 6 × 0.5 s
    live = liveness.read(view)
    assert not live.workers[0].online and live.consumers == {"celery": 0, "mj.control": 0}


def test_a_graceful_stop_removes_the_heartbeat(view: OpsView) -> None:
    beats = writer(view, "w@a", ["celery"])
    beats.beat()
    beats.leave()
    assert liveness.read(view).workers == []


def test_since_is_kept_across_beats(view: OpsView) -> None:
    beats = writer(view, "w@a", ["celery"])
    beats.beat()
    first = liveness.read(view).workers[0].since
    beats.beat()
    assert liveness.read(view).workers[0].since == first


def test_queue_depths_count_every_priority_list(view: OpsView) -> None:
    view.redis.rpush("celery", "m1", "m2")
    view.redis.rpush("celery\x06\x163", "m3")
    view.redis.rpush("mj.control", "m4")
    assert liveness.read(view).queues == {"celery": 3, "mj.control": 1}


def test_messages_nobody_consumes_make_it_degraded_with_the_reason(view: OpsView) -> None:
    view.redis.rpush("celery", "m1", "m2")
    view.redis.rpush("mj.control", "m3")
    writer(view, "control@a", ["mj.control"]).beat()
    status, reasons = liveness.verdict(liveness.read(view))
    assert status == "degraded"
    assert reasons == ["no worker consumes celery (2 messages waiting)"]


def test_empty_queues_and_a_recent_pump_are_ok(view: OpsView) -> None:
    writer(view, "w@a", ["celery", "mj.control"]).beat()
    view.redis.set(view.keys.pump_last, str(view.now()))
    assert liveness.verdict(liveness.read(view)) == ("ok", [])


def test_a_late_pump_is_degraded_and_so_is_none_recorded_once_workers_are_up_a_while(
    view: OpsView,
) -> None:
    writer(view, "w@a", ["celery", "mj.control"]).beat()
    assert liveness.verdict(liveness.read(view)) == ("ok", [])  # just started: no round yet
    beat: dict[str, Any] = json.loads(str(view.redis.hget(view.keys.workers, "w@a")))
    beat["since"] -= 60  # up for a minute (3 × 2 s + 5 s is the limit)
    view.redis.hset(view.keys.workers, "w@a", json.dumps(beat))
    status, reasons = liveness.verdict(liveness.read(view))
    assert status == "degraded" and "no pump round recorded" in reasons[0]
    view.redis.set(view.keys.pump_last, str(view.now() - 30))
    status, reasons = liveness.verdict(liveness.read(view))
    assert status == "degraded" and "the pump last ran 30s ago" in reasons[0]
    view.redis.set(view.keys.pump_last, str(view.now() - 10))
    assert liveness.verdict(liveness.read(view)) == ("ok", [])


def test_the_heartbeat_interval_is_a_quarter_of_the_pump_interval_within_bounds() -> None:
    assert interval_s(Settings(mj_pump_interval_s=5)) == 1.25
    assert interval_s(Settings(mj_pump_interval_s=0.2)) == 0.1
    assert interval_s(Settings(mj_pump_interval_s=60)) == 5.0


def test_long_gone_entries_are_swept_by_a_later_beat(view: OpsView) -> None:
    view.redis.hset(view.keys.workers, "ancient@a", json.dumps({"at": 1.0, "queues": []}))
    view.redis.hset(view.keys.workers, "garbage@a", "not json")
    writer(view, "w@a", ["celery"]).beat()  # the first beat sweeps
    assert set(view.redis.hkeys(view.keys.workers)) == {"w@a"}


def test_a_missed_beat_never_raises() -> None:
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server)
    beats = HeartbeatWriter(client, Keys(), "w@a", lambda: ["celery"], 1.0)
    server.connected = False
    beats.beat()
    beats.leave()
