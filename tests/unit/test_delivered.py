"""A job stops being owed unless the Redis that notes it still shows its caller a state in flight:
a store that went to another master (a split brain during a failover) leaves it owed for the
pump, instead of a caller waiting forever on a result that is nowhere it looks."""

from __future__ import annotations

import json
from dataclasses import replace

import fakeredis
import pytest

from config.settings import Settings
from tests.support.durable import StubReplicas
from worker.jobs.delivery import claim, delivered, owed
from worker.jobs.runtime import Runtime

JOB = "job-delivered-1"
META = f"celery-task-meta-{JOB}".encode()  # where Celery's Redis backend stores the outcome


@pytest.fixture(params=["one call", "with replicas"])
def rt(request: pytest.FixtureRequest) -> Runtime:
    rt = Runtime.build(Settings(ttapi_api_key="sk-delivered-0001"), fakeredis.FakeRedis())
    if request.param == "with replicas":  # the note then waits for them, in one pipeline
        rt = replace(rt, durability=StubReplicas(replicas=1, acked=1))
    rt.redis.zadd(rt.keys.undelivered, {JOB: 1.0})
    assert claim(rt, JOB, 30)
    return rt


def store(rt: Runtime, status: str) -> None:
    rt.redis.set(META, json.dumps({"status": status, "result": {}, "task_id": JOB}))


@pytest.mark.parametrize("status", ["SUCCESS", "FAILURE", "REVOKED"])
def test_an_outcome_stored_here_is_delivered(rt: Runtime, status: str) -> None:
    store(rt, status)  # whichever it is: Celery never overwrites a stored SUCCESS
    assert delivered(rt, JOB, META)
    assert not owed(rt, JOB) and not rt.redis.exists(rt.keys.delivery(JOB))


@pytest.mark.parametrize("shown", ["WAITING", "SUBMITTED", "PENDING"])
def test_a_state_in_flight_here_leaves_the_job_owed_and_its_claim_free(
    rt: Runtime, shown: str
) -> None:
    store(rt, shown)  # the outcome went to another master; the caller here sees it in flight
    assert not delivered(rt, JOB, META)
    assert owed(rt, JOB)
    assert not rt.redis.exists(rt.keys.delivery(JOB))  # the next report may claim it at once
    assert claim(rt, JOB, 30)


def test_no_outcome_key_at_all_counts_as_stored(rt: Runtime) -> None:
    # A caller may `forget()` its result as soon as it is published, before the note runs: a
    # report again would send the job's callbacks again.
    assert delivered(rt, JOB, META)
    assert not owed(rt, JOB)


def test_an_outcome_this_script_cannot_read_is_trusted(rt: Runtime) -> None:
    rt.redis.set(META, b"\x80\x04not-json")  # another result serializer
    assert delivered(rt, JOB, META)
    assert not owed(rt, JOB)


def test_a_delivery_with_nothing_to_check_is_noted_as_before(rt: Runtime) -> None:
    store(rt, "SUBMITTED")  # an ignored result: Celery stored nothing, the note trusts it
    assert delivered(rt, JOB)
    assert not owed(rt, JOB) and not rt.redis.exists(rt.keys.delivery(JOB))
