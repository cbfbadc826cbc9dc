"""A job's polls read no record while nothing else moved it: the record a submit or a poll
leaves travels with the next `PollAt` and the engine keeps it for that poll. A poll that sees
new progress makes no compare-and-set: the progress rides with the state that shows it."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from tests.support.engine import KEY_A, LABEL_A, build_engine
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from tests.unit.test_webhook import call, callback
from worker.engine.actions import Action, ActionKind
from worker.engine.core import EngineCore
from worker.jobs import poll as completion
from worker.jobs.effects import PollAt
from worker.jobs.record import RecordState
from worker.jobs.records import RecordStore
from worker.ttapi import errors
from worker.webhook.receiver import create_wsgi_app


@pytest.fixture
def eng(make_sim: SimFactory) -> InlineEngine:
    return build_engine(make_sim(keys=[KEY_A], capacity=10, fast_s=0.6), capacity=3, fast_s=0.6)


def test_a_job_s_polls_read_no_record(eng: InlineEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    reads, polls, real_load = Counter[str](), Counter[str](), RecordStore.load
    real_poll = EngineCore.PERFORMS[ActionKind.POLL]
    polling = False

    def poll(core: EngineCore, action: Any) -> Any:
        nonlocal polling
        polling = True
        polls[action.arg] += 1
        try:
            return real_poll(core, action)
        finally:
            polling = False

    def load(store: RecordStore, job_id: str) -> Any:
        if polling:
            reads[job_id] += 1
        return real_load(store, job_id)

    monkeypatch.setitem(EngineCore.PERFORMS, ActionKind.POLL, poll)
    monkeypatch.setattr(RecordStore, "load", load)
    job = eng.imagine("a cat that is polled")
    assert eng.run_until(lambda: eng.state(job) == RecordState.SUCCESS, 10)
    assert polls[job] >= 2  # its first poll and the one that saw it end, at least
    assert reads[job] == 0


def test_progress_rides_with_its_state_and_the_poll_step_stays(
    eng: InlineEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    moves, real_cas = [], RecordStore.cas

    def cas(store: RecordStore, job_id: str, expect: Any, **changes: Any) -> bool:
        moves.append(changes)
        return real_cas(store, job_id, expect, **changes)

    monkeypatch.setattr(RecordStore, "cas", cas)
    job = eng.imagine("a cat whose progress shows")
    seen: list[int] = []

    def progressed() -> bool:
        rec = eng.rt.records.load(job)
        if rec is not None and rec.state == RecordState.SUBMITTED and rec.progress:
            seen.append(rec.progress)
            assert rec.poll_seq == 1  # the submit's step: progress moved it not
            # ...but the poll that saw it is noted, and when the next is due (the pump's sweep
            # takes a record whose next poll is long overdue for a lost chain).
            assert rec.last_poll_at == rec.last_progress_at < rec.next_poll_at
        return rec is not None and rec.state == RecordState.SUCCESS

    assert eng.run_until(progressed, 10)
    assert seen, "the record never showed the job's progress (the API's and the page's view)"
    shown = {m["progress"] for state, m in eng.dispatcher.states[job] if state == "SUBMITTED"}
    assert set(seen) <= shown  # what the record said, its caller saw
    # No compare-and-set carried progress, but the ending's (which also moves the step).
    assert [c["state"] for c in moves if "progress" in c] == [RecordState.SUCCESS]


def test_with_callbacks_on_the_safety_poll_reads_the_record_first(
    make_sim: SimFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With callbacks ending jobs, the first poll is a safety poll a while later: it reads the
    record, and a job a callback ended meanwhile costs no TTAPI fetch."""
    sim = make_sim(keys=[KEY_A], capacity=10, fast_s=0.3)
    eng = build_engine(sim, capacity=3, fast_s=0.3, mj_hook_base_url="http://127.0.0.1:9")
    rt, client = eng.rt, eng.rt.pool.client(LABEL_A)
    job = eng.imagine("a cat whose callback comes first")
    rec = rt.records.load(job)
    assert rec is not None and rec.state == RecordState.SUBMITTED
    deadline = time.monotonic() + 5
    while client.fetch(rec.ttapi_job_id).status != "SUCCESS" and time.monotonic() < deadline:
        time.sleep(0.05)
    app = create_wsgi_app(rt, eng.carry)
    assert call(app, "POST", f"/hook/{rec.hook_token}", callback(rec.ttapi_job_id)).code == 200
    assert eng.state(job) == RecordState.SUCCESS
    fetches: list[str] = []
    monkeypatch.setattr(client, "fetch", lambda *a, **k: fetches.append(a[0]))
    assert eng.core.perform(Action(ActionKind.POLL, job, rec.poll_seq)) == []
    assert fetches == []


def test_a_takeover_forgets_the_records_kept_for_its_polls(eng: InlineEngine) -> None:
    """After a failover (writes may be lost and the records re-derived) or a lapse, the
    takeover's polls read the records: nothing kept before holds."""
    job = eng.imagine("a cat kept for its first poll")
    assert job in eng.core.polling  # the submit's record, for the first poll
    eng.core.perform(Action(ActionKind.TAKEOVER, LABEL_A))
    assert job not in eng.core.polling


def test_a_poll_from_a_stale_record_writes_nothing_to_an_ended_one(
    eng: InlineEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poll that starts from the record its step kept, after something else ended the job
    (a callback, a cancel), and then fails to fetch, moves nothing: its step expects the job
    in flight."""
    rt, client = eng.rt, eng.rt.pool.client(LABEL_A)
    job = eng.imagine("a cat ended behind its poll's back")
    kept = eng.core.polling[job]
    assert rt.records.move(job, RecordState.SUBMITTED, RecordState.FAILED, error="canceled")

    def down(*args: Any, **kwargs: Any) -> Any:
        raise errors.ServerError("TTAPI is down", status_code=500)

    monkeypatch.setattr(client, "fetch", down)
    assert completion.poll(rt, job, kept.poll_seq, kept) == []
    rec = rt.records.load(job)
    assert rec is not None and (rec.state, rec.fetch_errors, rec.poll_seq) == (
        RecordState.FAILED,
        0,
        kept.poll_seq,
    )


def test_with_callbacks_on_no_poll_keeps_a_record(make_sim: SimFactory) -> None:
    """Each poll is then a safety poll a while later: it reads the record first."""
    sim = make_sim(keys=[KEY_A], capacity=10, fast_s=5)
    eng = build_engine(sim, capacity=3, fast_s=5, mj_hook_base_url="http://127.0.0.1:9")
    job = eng.imagine("a slow cat")
    rec = eng.rt.records.load(job)
    assert rec is not None and rec.state == RecordState.SUBMITTED
    fx = eng.core.perform(Action(ActionKind.POLL, job, rec.poll_seq))
    polls = [e for e in fx if isinstance(e, PollAt)]
    assert polls and all(p.known is None for p in polls)
