"""The script that shows WAITING / SUBMITTED in the result backend (`publish_state`): it writes
and publishes, unless the stored state is a final one, or SUBMITTED for a WAITING; on a real
Redis and on fakeredis, and on a Redis without SET ... GET (before 6.2). With a job's progress
note, the record takes the progress in the same call, and a stale step's shows nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import fakeredis
import pytest
import redis

from worker.adapter.task_states import PUBLISH_STATE as _PUBLISH_STATE
from worker.devtools.embedded import RedisServer
from worker.jobs.records import progress_note

KEY = "celery-task-meta-job1"
RECORD = "mj:job:job1"
TTL = 600

# The same script where SET ... GET is refused as an older Redis refuses it (a syntax error).
_OLD_REDIS = _PUBLISH_STATE.replace("set(redis.pcall, 'GET')", "set(redis.pcall, 'NOSUCHOPTION')")


def _meta(status: str, progress: int = 0) -> str:
    return json.dumps({"status": status, "result": {"progress": progress}, "task_id": "job1"})


@pytest.fixture(params=["real", "fake", "real-before-6.2"])
def setup(request: pytest.FixtureRequest) -> Iterator[tuple[redis.Redis, str]]:
    if request.param == "fake":
        yield fakeredis.FakeRedis(decode_responses=True), _PUBLISH_STATE
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    client = redis.Redis.from_url(server.url, decode_responses=True)
    client.delete(KEY)
    try:
        yield client, (_OLD_REDIS if request.param == "real-before-6.2" else _PUBLISH_STATE)
    finally:
        client.delete(KEY, RECORD)


def _show(client: redis.Redis, text: str, value: str, ttl: int = TTL) -> int:
    return int(client.register_script(text)(keys=[KEY], args=[value, ttl]))


def test_a_state_is_written_with_its_expiry_and_published(setup: tuple[redis.Redis, str]) -> None:
    client, text = setup
    pubsub = client.pubsub()
    pubsub.subscribe(KEY)
    pubsub.get_message(timeout=1)  # the subscription's own
    assert _show(client, text, _meta("WAITING")) == 1
    assert client.get(KEY) == _meta("WAITING")
    assert 0 < client.ttl(KEY) <= TTL
    message = pubsub.get_message(timeout=1)
    assert message is not None and message["data"] == _meta("WAITING")
    pubsub.close()
    assert _show(client, text, _meta("SUBMITTED", 10)) == 1  # WAITING -> SUBMITTED
    assert _show(client, text, _meta("SUBMITTED", 40)) == 1  # progress
    assert client.get(KEY) == _meta("SUBMITTED", 40)


def test_without_an_expiry_none_is_set(setup: tuple[redis.Redis, str]) -> None:
    client, text = setup
    assert _show(client, text, _meta("SUBMITTED"), ttl=0) == 1
    assert client.ttl(KEY) == -1


@pytest.mark.parametrize("final", ["SUCCESS", "FAILURE", "REVOKED"])
@pytest.mark.parametrize("late", ["WAITING", "SUBMITTED"])
def test_a_final_state_is_never_replaced(
    setup: tuple[redis.Redis, str], final: str, late: str
) -> None:
    client, text = setup
    client.set(KEY, _meta(final), ex=TTL)
    assert _show(client, text, _meta(late, 50)) == 0
    assert client.get(KEY) == _meta(final)
    assert 0 < client.ttl(KEY) <= TTL  # it still expires


def test_a_final_state_stored_without_expiry_keeps_none(setup: tuple[redis.Redis, str]) -> None:
    client, text = setup
    client.set(KEY, _meta("SUCCESS"))
    assert _show(client, text, _meta("SUBMITTED"), ttl=0) == 0
    assert client.get(KEY) == _meta("SUCCESS") and client.ttl(KEY) == -1


def test_a_late_waiting_never_hides_submitted(setup: tuple[redis.Redis, str]) -> None:
    client, text = setup
    client.set(KEY, _meta("SUBMITTED", 20), ex=TTL)
    assert _show(client, text, _meta("WAITING")) == 0
    assert client.get(KEY) == _meta("SUBMITTED", 20)
    assert _show(client, text, _meta("SUBMITTED", 30)) == 1
    assert client.get(KEY) == _meta("SUBMITTED", 30)


def test_the_older_redis_variant_really_takes_the_other_path(redis_server: RedisServer) -> None:
    assert _OLD_REDIS != _PUBLISH_STATE
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    with pytest.raises(redis.ResponseError):  # what SET ... GET meets on Redis before 6.2
        client.execute_command("SET", KEY, "x", "NOSUCHOPTION")
    assert client.get(KEY) is None


def _show_noted(client: redis.Redis, text: str, seq: int, progress: int) -> int:
    note = progress_note(seq, progress, prev_progress=10, last_progress_at=123.5)
    args = [_meta("SUBMITTED", progress), TTL, note.seq, note.progress, *note.fields]
    return int(client.register_script(text)(keys=[KEY, RECORD], args=args))


def test_a_progress_note_lands_on_the_record_with_its_state(
    setup: tuple[redis.Redis, str],
) -> None:
    client, text = setup
    client.hset(RECORD, mapping={"state": "SUBMITTED", "poll_seq": "3", "progress": "10"})
    assert _show_noted(client, text, seq=3, progress=40) == 1
    assert client.hmget(RECORD, "progress", "prev_progress", "last_progress_at", "poll_seq") == [
        "40",
        "10",
        "123.5",
        "3",
    ]
    assert client.get(KEY) == _meta("SUBMITTED", 40)


@pytest.mark.parametrize(
    ("stored", "why"),
    [
        ({"state": "SUBMITTED", "poll_seq": "4", "progress": "10"}, "another poll step"),
        ({"state": "SUBMITTED", "poll_seq": "3", "progress": "60"}, "a higher progress"),
        ({"state": "SUCCESS", "poll_seq": "3", "progress": "10"}, "the job ended"),
        ({}, "no record"),
    ],
)
def test_a_stale_progress_note_writes_and_shows_nothing(
    setup: tuple[redis.Redis, str], stored: dict[str, str], why: str
) -> None:
    client, text = setup
    if stored:
        client.hset(RECORD, mapping=stored)
    client.set(KEY, _meta("SUBMITTED", 20), ex=TTL)
    assert _show_noted(client, text, seq=3, progress=40) == 0, why
    assert client.hgetall(RECORD) == stored
    assert client.get(KEY) == _meta("SUBMITTED", 20)
