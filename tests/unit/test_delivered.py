"""A job stops being owed only where its outcome is stored: a store that went to another master
(a split brain during a failover) leaves it owed for the pump, instead of a caller waiting
forever on a result that is nowhere."""

from __future__ import annotations

import json

import fakeredis
import pytest

from config.settings import Settings
from worker.jobs.delivery import claim, delivered, owed
from worker.jobs.runtime import Runtime

JOB = "job-delivered-1"
META = f"celery-task-meta-{JOB}"  # where Celery's Redis backend stores the outcome


@pytest.fixture
def rt() -> Runtime:
    rt = Runtime.build(Settings(ttapi_api_key="sk-delivered-0001"), fakeredis.FakeRedis())
    rt.redis.zadd(rt.keys.undelivered, {JOB: 1.0})
    assert claim(rt, JOB, 30)
    return rt


def store(rt: Runtime, status: str) -> None:
    rt.redis.set(META, json.dumps({"status": status, "result": {}, "task_id": JOB}))


def test_an_outcome_stored_here_is_delivered(rt: Runtime) -> None:
    store(rt, "SUCCESS")
    assert delivered(rt, JOB, (META, "SUCCESS"))
    assert not owed(rt, JOB) and not rt.redis.exists(rt.keys.delivery(JOB))


@pytest.mark.parametrize("found", [None, "SUBMITTED", "FAILURE"])
def test_an_outcome_not_stored_here_leaves_the_job_owed_and_its_claim_free(
    rt: Runtime, found: str | None
) -> None:
    if found:  # the job's last visible state, or another outcome, is all this Redis has
        store(rt, found)
    assert not delivered(rt, JOB, (META, "SUCCESS"))
    assert owed(rt, JOB)
    assert not rt.redis.exists(rt.keys.delivery(JOB))  # the next report may claim it at once
    assert claim(rt, JOB, 30)


def test_an_outcome_this_script_cannot_read_is_trusted(rt: Runtime) -> None:
    rt.redis.set(META, b"\x80\x04not-json")  # another result serializer
    assert delivered(rt, JOB, (META, "SUCCESS"))
    assert not owed(rt, JOB)


def test_a_delivery_with_nothing_to_check_is_noted_as_before(rt: Runtime) -> None:
    assert delivered(rt, JOB)  # a revoke: Celery stored REVOKED, the caller's own doing
    assert not owed(rt, JOB) and not rt.redis.exists(rt.keys.delivery(JOB))
