"""The two state enums keep the public strings: a record's state as stored in Redis, and the task
states the README's table (and the contract) name, byte for byte."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import fakeredis
import pytest
from celery import states as celery_states

from worker.jobs.record import IN_FLIGHT, TERMINAL, UNSENT, JobRecord, RecordState, Storing, encode
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


# -- the other vocabularies: what the engine does, what a hint asks, the storing flag, TTAPI's
# statuses. Each is one enum, its values the strings stored, sent or logged before.


def test_the_engines_action_kinds_are_one_enum_each_performed_through_a_table() -> None:
    from worker.engine.core import Action, ActionKind, EngineCore

    assert [k.value for k in ActionKind] == ["poll", "submit", "fill", "scan", "takeover", "store"]
    assert Action("poll", "job-1").kind is ActionKind.POLL  # a spelled kind becomes the member
    with pytest.raises(ValueError):
        Action("nonsense", "job-1")
    # The core performs every kind but the storage pool's own (worker.engine.storing).
    assert set(EngineCore.PERFORMS) == set(ActionKind) - {ActionKind.STORE}


def test_the_storing_flag_is_one_enum_read_back_as_its_member() -> None:
    assert [s.value for s in Storing] == ["", "hold", "background"]
    rec = JobRecord.from_hash("j1", {"state": "SUCCESS", "storing": "hold"})
    assert rec.state is RecordState.SUCCESS and rec.storing is Storing.HOLD
    assert JobRecord.from_hash("j2", {"state": "WAITING"}).storing is Storing.NONE
    assert encode({"storing": Storing.BACKGROUND}) == {"storing": "background"}


def test_a_record_in_a_state_this_release_does_not_know_still_reads() -> None:
    # A release after this one may add a state; a rolled-back node must still list the record.
    rec = JobRecord.from_hash("j1", {"state": "PAUSED"})
    assert rec.state == "PAUSED" and rec.state not in set(RecordState)


def test_ttapi_job_statuses_are_one_enum() -> None:
    from worker.ttapi.responses import FINISHED, JobInfo, JobStatus

    assert [s.value for s in JobStatus] == ["PENDING_QUEUE", "ON_QUEUE", "SUCCESS", "FAILED"]
    assert set(FINISHED) == {JobStatus.SUCCESS, JobStatus.FAILED}
    assert JobInfo(status="SUCCESS").finished and not JobInfo().finished


# Where a state, a flag or a status is compared with a bare string, the vocabulary has leaked
# out of its enum. Job kinds (imagine, action, ...) are another matter: a later change gives
# them one description each.
WATCHED = {"state", "storing", "status"}
PACKAGES = (
    "worker/jobs",
    "worker/engine",
    "worker/ttapi",
    "worker/adapter",
    "worker/webhook",
    "worker/api",
)


def _watched(node: ast.AST, names: set[str]) -> bool:
    if isinstance(node, ast.Attribute | ast.Name):
        return (node.attr if isinstance(node, ast.Attribute) else node.id) in names
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
        first = node.args[0]
        return node.func.attr == "get" and isinstance(first, ast.Constant) and first.value in names
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return node.slice.value in names
    return False


def _bare(node: ast.AST) -> bool:
    items = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    return bool(items) and all(
        isinstance(i, ast.Constant) and isinstance(i.value, str) for i in items
    )


def _names(path: Path) -> set[str]:
    """What is watched in `path`: the HTTP API's `status` is its own public vocabulary (a
    Literal in its OpenAPI schema) and midjourney-proxy's; its `state`s are ours."""
    if "api" in path.parts:
        return {"state"}
    return WATCHED | ({"kind"} if "engine" in path.parts else set())


def test_no_state_flag_status_or_engine_kind_is_compared_with_a_bare_string() -> None:
    found = []
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")] + [*ROOT.glob("tasks/*.py")]
    for path in files:
        names = _names(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
                if any(_watched(o, names) for o in operands) and any(_bare(o) for o in operands):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert not found, "\n".join(found)


def test_the_lua_that_shows_a_state_knows_the_task_states_by_their_strings() -> None:
    lua = (ROOT / "worker" / "lua" / "adapter" / "dispatch" / "publish_state.lua").read_text()
    guard = next(line for line in lua.splitlines() if " or status == " in line)
    ended = set(re.findall(r"status == '([A-Z]+)'", guard))
    assert ended == READY  # a stored end is never overwritten by a late state
    named = set(re.findall(r"status == '([A-Z]+)'", lua))
    named |= set(re.findall(r'"status":%s\*"([A-Z]+)"', lua))
    assert "WAITING" in named and named <= {s.value for s in TaskState}, named
