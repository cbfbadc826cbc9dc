"""The two state enums keep the public strings: a record's state as stored in Redis, and the task
states the README's table (and the contract) name, byte for byte."""

from __future__ import annotations

import json
import re
from pathlib import Path

import fakeredis
from celery import states as celery_states

from worker.jobs.record import IN_FLIGHT, TERMINAL, UNSENT, RecordState, encode
from worker.jobs.records import RecordStore
from worker.jobs.states import READY, TaskState

ROOT = Path(__file__).resolve().parents[2]


def test_record_states_are_the_strings_stored() -> None:
    assert [s.value for s in RecordState] == [
        "NEW",
        "WAITING",
        "SUBMITTING",
        "SUBMITTED",
        "AMBIGUOUS",
        "SUCCESS",
        "FAILED",
        "REVOKED",
    ]
    assert all(s == s.value and str(s) == s.value and f"{s}" == s.value for s in RecordState)


def test_record_state_groups_split_the_diagram() -> None:
    assert set(UNSENT) | set(IN_FLIGHT) | set(TERMINAL) == set(RecordState)
    assert len(UNSENT) + len(IN_FLIGHT) + len(TERMINAL) == len(RecordState)


def test_a_record_state_reaches_redis_as_its_plain_string() -> None:
    client = fakeredis.FakeRedis()
    store = RecordStore(client)
    store.create("j1", RecordState.WAITING)
    assert store.move("j1", RecordState.WAITING, RecordState.SUBMITTING)
    assert client.hget(store.key("j1"), "state") == b"SUBMITTING"
    assert encode({"state": RecordState.FAILED}) == {"state": "FAILED"}


def test_task_states_are_the_readmes_and_celerys_strings() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### Where a job is: task states", 1)[1].split("```", 1)[0]
    named = set(re.findall(r"`([A-Z]+)`", table))
    assert {s.value for s in TaskState} == named
    for state in ("PENDING", "SUCCESS", "FAILURE", "REVOKED"):
        assert TaskState(state) == getattr(celery_states, state)
    assert celery_states.READY_STATES == READY
    assert json.dumps({"status": TaskState.WAITING}) == '{"status": "WAITING"}'
