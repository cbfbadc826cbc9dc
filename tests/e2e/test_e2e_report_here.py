"""A job's end is reported where the engine saw it: the result stored and the canvas sent on by
Celery's own tracer inside the engine's process, with no report message through the broker.

Against the session's redis-server and the project's Celery app (its backend and broker), the
engine's dispatcher (`CeleryDispatcher` with an engine) carries out a `Report` of an ended job.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from worker.adapter.app import app
from worker.adapter.dispatch import CeleryDispatcher
from worker.adapter.signatures import fix_callback_ids
from worker.devtools.embedded import RedisServer
from worker.jobs.delivery import owed
from worker.jobs.effects import Effect, Report, Submit
from worker.jobs.record import RecordState
from worker.jobs.revoke import cancel_parked
from worker.jobs.runtime import Runtime
from worker.jobs.states import TaskState

pytestmark = pytest.mark.e2e
PREFIX = "report-here-"  # of the tests' job ids
RESULT = {"job_id": "ttapi-1", "status": "SUCCESS", "image_url": "https://cdn.example/1.png"}


class NoEngine:
    """The engine a dispatcher hands its own effects to; none is expected here."""

    def carry(self, effect: Effect) -> None:
        raise AssertionError(f"not an engine effect: {effect!r}")


@pytest.fixture
def rt(redis_server: RedisServer) -> Iterator[Runtime]:
    app.loader.import_default_modules()  # the job tasks, as a node's processes have them
    rt = app.runtime
    yield rt
    for queue in ("celery", app.mj_settings.mj_control_queue):  # what the tests sent
        for raw in rt.redis.lrange(queue, 0, -1):
            if PREFIX in raw:
                rt.redis.lrem(queue, 1, raw)


def messages(rt: Runtime, queue: str) -> list[dict[str, Any]]:
    """The messages waiting in `queue`, decoded (kombu's Redis layout: a list of JSON texts)."""
    return [json.loads(raw) for raw in rt.redis.lrange(queue, 0, -1)]


def sent_by(rt: Runtime, job_id: str) -> list[dict[str, Any]]:
    """The messages in the default queue that `job_id`'s end sent (their parent is the job)."""
    return [m for m in messages(rt, "celery") if m["headers"]["parent_id"] == job_id]


def body(message: dict[str, Any]) -> Any:
    """A task message's (args, kwargs, embed)."""
    return json.loads(base64.b64decode(message["body"]))


def ended_job(rt: Runtime, state: RecordState, **fields: Any) -> tuple[str, dict[str, Any]]:
    """An imagine that ended in `state`, owed to its caller; its stored signature links an
    `mj.action` (its callback) and an `mj.seed` (its errback)."""
    job_id = f"{PREFIX}{uuid.uuid4()}"
    sig = (
        app.signature("mj.imagine", kwargs={"prompt": "a lighthouse"})
        .set(task_id=job_id)
        .on_error(app.signature("mj.seed"))
    )
    sig.link(app.signature("mj.action", kwargs={"action": "upsample1"}))
    stored = fix_callback_ids(json.loads(json.dumps(dict(sig))), job_id)  # as task_signature
    rt.records.create(
        job_id, RecordState.SUBMITTED, kind="imagine", params={"prompt": "x"}, sig=stored
    )
    if state != RecordState.SUBMITTED:
        assert rt.records.move(job_id, RecordState.SUBMITTED, state, **fields)
        assert owed(rt, job_id)
    return job_id, stored


def engine_dispatcher(
    rt: Runtime, events: list[tuple[str, dict[str, Any]]] | None = None, engine: Any = None
) -> CeleryDispatcher:
    """The dispatcher of an engine's process (`engine`: NoEngine), its task events kept in
    `events` when given."""
    dispatcher = CeleryDispatcher(
        app, rt, hostname="celery@report-here", engine=engine or NoEngine()
    )
    if events is not None:
        dispatcher.send_event = lambda name, **fields: events.append((name, fields))  # type: ignore[method-assign]
    return dispatcher


def test_an_ended_job_is_stored_and_its_callback_sent_without_a_report_message(
    rt: Runtime,
) -> None:
    job_id, sig = ended_job(rt, RecordState.SUCCESS, result=RESULT, finished_at_ts=1.0)
    events: list[tuple[str, dict[str, Any]]] = []
    engine_dispatcher(rt, events).carry_out([Report(job_id, sig=sig, ends=True)])

    stored = app.AsyncResult(job_id)
    assert stored.state == TaskState.SUCCESS  # stored at once: no message, no pool run
    assert stored.result == RESULT
    assert not owed(rt, job_id)  # delivered (the task's after_return)
    control = app.mj_settings.mj_control_queue
    assert not [m for m in messages(rt, control) if m["headers"]["id"] == job_id]
    sent = sent_by(rt, job_id)
    assert [m["headers"]["task"] for m in sent] == ["mj.action"]
    args, kwargs, _ = body(sent[0])
    assert args == [RESULT] and kwargs == {"action": "upsample1"}
    assert [name for name, _ in events] == ["task-succeeded"]
    assert events[0][1]["uuid"] == job_id


def test_a_failed_job_is_stored_as_failure_and_its_errback_called(rt: Runtime) -> None:
    job_id, sig = ended_job(rt, RecordState.FAILED, error="banned prompt", finished_at_ts=1.0)
    events: list[tuple[str, dict[str, Any]]] = []
    engine_dispatcher(rt, events).carry_out([Report(job_id, sig=sig, ends=True)])

    stored = app.AsyncResult(job_id)
    assert stored.state == TaskState.FAILURE
    assert "banned prompt" in str(stored.result)
    assert not owed(rt, job_id)
    sent = sent_by(rt, job_id)  # the errback (a bound task: called with the failed id)
    assert [(m["headers"]["task"], body(m)[0]) for m in sent] == [("mj.seed", [job_id])]
    assert [name for name, _ in events] == ["task-failed"]


def test_a_report_claimed_by_another_run_stores_nothing_here(rt: Runtime) -> None:
    job_id, sig = ended_job(rt, RecordState.SUCCESS, result=RESULT, finished_at_ts=1.0)
    rt.redis.set(rt.keys.delivery(job_id), "another run's token", px=60_000)
    events: list[tuple[str, dict[str, Any]]] = []
    engine_dispatcher(rt, events).carry_out([Report(job_id, sig=sig, ends=True)])

    assert app.AsyncResult(job_id).state == TaskState.PENDING  # the other run delivers it
    assert owed(rt, job_id)
    assert events == []


def test_an_outcome_stored_on_another_master_leaves_the_job_owed(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two masters for a moment during a failover: the backend's connection wrote the result to
    # the one that lost (its writes dropped), the record's connection is on the one that won.
    # Marked delivered here, the caller would wait forever; owed, the pump reports it again.
    job_id, sig = ended_job(rt, RecordState.SUCCESS, result=RESULT, finished_at_ts=1.0)
    app.backend.store_result(job_id, {"progress": 40}, "SUBMITTED")  # what its caller saw last
    monkeypatch.setattr(app.backend, "set", lambda *args, **kwargs: None)  # a lost write
    engine_dispatcher(rt, []).carry_out([Report(job_id, sig=sig, ends=True)])
    assert app.AsyncResult(job_id).state == "SUBMITTED"
    assert owed(rt, job_id) and not rt.redis.exists(rt.keys.delivery(job_id))

    monkeypatch.undo()  # the masters agree again: the next report delivers it
    engine_dispatcher(rt, []).carry_out([Report(job_id, sig=sig, ends=True)])
    assert app.AsyncResult(job_id).state == TaskState.SUCCESS
    assert not owed(rt, job_id)
    # Both reports sent the callback, under one task id: its own record makes it one job.
    sent = sent_by(rt, job_id)
    assert [m["headers"]["task"] for m in sent] == ["mj.action", "mj.action"]
    assert len({m["headers"]["id"] for m in sent}) == 1


def test_the_slot_a_job_gave_back_is_handed_on_before_its_report_runs(rt: Runtime) -> None:
    # A report in place is a few round trips: the next waiter's submit must not wait for it.
    job_id, sig = ended_job(rt, RecordState.SUCCESS, result=RESULT, finished_at_ts=1.0)
    seen: list[str] = []

    class Engine:
        def carry(self, effect: Effect) -> None:
            seen.append(app.AsyncResult(job_id).state)

    dispatcher = engine_dispatcher(rt, engine=Engine())
    dispatcher.carry_out([Report(job_id, sig=sig, ends=True), Submit("acct", "next-job")])
    assert seen == [TaskState.PENDING]  # handed on first
    assert app.AsyncResult(job_id).state == TaskState.SUCCESS  # then reported


def test_a_job_revoked_while_ttapi_ran_it_reports_revoked_not_its_result(rt: Runtime) -> None:
    # revoke() of a submitted job: it runs to its end, but its result is not delivered. A
    # worker used to drop the report's message (its revoked ids); a report in place never
    # sees those, so the revoke is noted on the record when a worker receives it.
    job_id, sig = ended_job(rt, RecordState.SUBMITTED)  # in flight
    assert cancel_parked(rt, [job_id]) == ([], [])  # a worker received the revoke
    ends = {"result": RESULT, "finished_at_ts": 2.0}
    assert rt.records.move(job_id, RecordState.SUBMITTED, RecordState.SUCCESS, **ends)
    events: list[tuple[str, dict[str, Any]]] = []
    engine_dispatcher(rt, events).carry_out([Report(job_id, sig=sig, ends=True)])

    assert app.AsyncResult(job_id).state == TaskState.REVOKED
    assert not owed(rt, job_id)
    assert sent_by(rt, job_id) == []  # no callback


def test_an_effect_that_fails_does_not_hold_back_the_report(rt: Runtime) -> None:
    job_id, sig = ended_job(rt, RecordState.SUCCESS, result=RESULT, finished_at_ts=1.0)

    class Engine:
        def carry(self, effect: Effect) -> None:
            raise ConnectionError("the engine's timers are gone")

    dispatcher = engine_dispatcher(rt, engine=Engine())
    with pytest.raises(ConnectionError):
        dispatcher.carry_out([Report(job_id, sig=sig, ends=True), Submit("acct", "next-job")])
    assert app.AsyncResult(job_id).state == TaskState.SUCCESS  # reported all the same


def test_the_engine_process_never_waits_on_what_it_publishes() -> None:
    # Celery's pools set this flag: a publish then subscribes to nothing. Without it every
    # chain step or callback a report in place sends subscribed the thread to its result.
    from celery import _state

    from worker.adapter.engine_process import run_tasks_here

    before = _state.task_join_will_block()
    try:
        run_tasks_here(app)
        assert _state.task_join_will_block()
        assert _state.get_current_app() is app
    finally:
        _state._set_task_join_will_block(before)
