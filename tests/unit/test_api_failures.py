"""POST /v1/jobs when Redis or the broker fails under it: a 202 or a 503 that says what to do,
and nothing half-made — never an Idempotency-Key without its job's entry, never a published
job without its entry and key, and a retry with the key makes the job once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from config.settings import Settings
from tests.support.api import KEY, ApiHarness, make_api
from worker.adapter.api_jobs import BrokerUnavailable, CeleryJobs
from worker.adapter.app import create_app
from worker.api import idempotency
from worker.devtools.embedded import free_port
from worker.jobs.record import RecordState

IMAGINE = {"kind": "imagine", "prompt": "a red fox", "then": ["upsample2"]}


@contextmanager
def redis_fails_at(h: ApiHarness, n: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Redis stops answering at the `n`-th round trip from now (and answers again after)."""
    seen = [0]
    conn_class = h.rt.redis.connection_pool.connection_class
    send = conn_class.send_packed_command  # every command and pipeline passes here

    def counted(conn: Any, command: Any, *args: Any, **kwargs: Any) -> None:
        seen[0] += 1
        if seen[0] == n:
            h.server.connected = False
        send(conn, command, *args, **kwargs)

    monkeypatch.setattr(conn_class, "send_packed_command", counted)
    try:
        yield seen
    finally:
        monkeypatch.setattr(conn_class, "send_packed_command", send)
        h.server.connected = True


def half_made(h: ApiHarness) -> list[str]:
    """What would be half-made: a key whose job has no entry, a published job without its
    entry (or, when made with a key, without the key)."""
    found = []
    for name in h.rt.redis.scan_iter(h.rt.keys.api_idem("*", "*")):
        job_id = h.rt.redis.hget(name, "job")
        if not h.rt.redis.exists(h.rt.keys.api_job(str(job_id))):
            found.append(f"key {name} points at no entry ({job_id})")
    for *_, ids in h.celery.published:
        if not h.rt.redis.exists(h.rt.keys.api_job(ids[0])):
            found.append(f"job {ids[0]} published without its entry")
    return found


@pytest.mark.parametrize("keyed", [True, False], ids=["with a key", "without"])
def test_redis_failing_at_any_round_trip_of_a_post_leaves_nothing_half_made(
    keyed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("worker.api.app.WAIT_S", 0.2)
    n, outcomes, h = 0, set(), make_api()
    while True:
        n += 1
        h.rt.redis.flushall()  # a fresh start each time (one app: dozens would linger)
        h.celery.published.clear()
        headers = {**h.token(), **({"Idempotency-Key": "k"} if keyed else {})}
        with redis_fails_at(h, n, monkeypatch) as seen:
            reply = h.post(IMAGINE, headers)
        outcomes.add(reply.status_code)
        assert reply.status_code in (202, 503), (n, reply.text)
        assert reply.headers["content-type"] in ("application/json", "application/problem+json")
        assert half_made(h) == [], n
        if reply.status_code == 202:  # the job that answer names is published
            assert [ids[0] for *_, ids in h.celery.published] == [reply.json()["id"]], n
        elif not keyed:  # "nothing was made": nothing that can run
            assert (
                h.celery.published == []
                or h.rt.records.load(h.celery.published[0][3][0]).state == RecordState.REVOKED
            ), n  # type: ignore[union-attr]
            assert h.client.get("/v1/jobs", headers=headers).json()["items"] == [], n
        if keyed:  # the retry with the key ends it: one job, published with the same ids
            again = h.post(IMAGINE, headers)
            if again.status_code == 409:  # published, not confirmed: the lease holds the key...
                assert reply.status_code == 202, n
                h.rt.redis.hset(h.api.idem.key_of("web", "k"), "at", "0")  # ...until it lapses
                again = h.post(IMAGINE, headers)
            assert again.status_code == 202, (n, again.text)
            assert again.json()["status"] == "waiting", n
            assert {ids[0] for *_, ids in h.celery.published} == {
                idempotency.job_id_for("web", "k")
            }, n
            assert half_made(h) == [], n
        if seen[0] < n:  # the POST took fewer round trips: every one of them was broken once
            break
    assert outcomes == {202, 503} and n > 5


def test_a_retry_with_the_key_after_a_failed_publish_makes_a_job_that_runs(
    h: ApiHarness,
) -> None:
    # Before: the failed publish left a REVOKED record under the key's job id, so the retry
    # made a job that was canceled at once.
    headers = {**h.token(), "Idempotency-Key": "k"}
    h.celery.fail_next = BrokerUnavailable("OperationalError: refused")
    reply = h.post(IMAGINE, headers)
    assert reply.status_code == 503 and reply.headers["retry-after"]
    assert "same Idempotency-Key" in reply.json()["detail"]
    again = h.post(IMAGINE, headers)  # at once: the failed request let go of the key
    assert again.status_code == 202 and again.json()["status"] == "waiting"
    job_id = idempotency.job_id_for("web", "k")
    assert h.rt.records.load(job_id) is None  # nothing stops it
    assert h.celery.attempted[0] == h.celery.published[0][3]  # the very same task ids


def test_without_a_key_a_failed_publish_leaves_nothing_that_can_run(h: ApiHarness) -> None:
    headers = h.token()
    h.celery.fail_next = BrokerUnavailable("OperationalError: refused")
    reply = h.post(IMAGINE, headers)
    assert reply.status_code == 503 and "nothing was made" in reply.json()["detail"]
    (ids,) = h.celery.attempted
    rec = h.rt.records.load(ids[0])
    assert rec is not None and rec.state == RecordState.REVOKED  # a message that got through
    assert not h.rt.redis.exists(h.rt.keys.api_job(ids[0]), h.rt.keys.chain(ids[1]))
    assert h.client.get("/v1/jobs", headers=headers).json()["items"] == []


def test_a_job_published_is_answered_202_though_redis_fails_right_after(
    h: ApiHarness,
) -> None:
    # Before: a 503 ("nothing was made") for a job that was queued: a client retrying
    # without a key paid twice.
    h.celery.after_publish = lambda: setattr(h.server, "connected", False)
    reply = h.post(IMAGINE, h.token())
    h.server.connected = True
    assert reply.status_code == 202, reply.text
    job = reply.json()
    assert job["id"] == h.celery.published[0][3][0] and job["status"] == "waiting"
    assert [s["name"] for s in job["steps"]] == ["imagine", "upsample2"]


def test_a_broker_that_does_not_answer_is_broker_unavailable_not_a_kombu_error() -> None:
    # Before: kombu's OperationalError went through the API's handlers as a 500.
    settings = Settings(ttapi_api_key=KEY, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    app = create_app(settings)
    try:
        jobs = CeleryJobs(app, retry_policy={"max_retries": 1, "interval_start": 0})
        with pytest.raises(BrokerUnavailable):
            jobs.publish("imagine", {"prompt": "x"}, ["upsample2"], ["a", "b"])
    finally:
        app.close()


@pytest.fixture
def h() -> ApiHarness:
    return make_api()
