"""`revoke()` acts where it arrives: parked jobs end at once, submitted ones run to their end."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from celery.signals import worker_init
from celery.worker.control import Panel

from tests.support.engine import FAST, KEY_A, LABEL_A, account, build_engine
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.adapter.patches import revoke_command
from worker.devtools.simulator import Simulator
from worker.jobs.record import RecordState
from worker.jobs.revoke import cancel_parked


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=1, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    return build_engine(sim, capacity=1)


def test_the_hook_runs_after_celerys_own_revoke_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, list[str]]] = []

    def celerys(state: object, task_id: object, **kw: object) -> dict[str, str]:
        calls.append(("celery", list(task_id)))  # type: ignore[call-overload]
        return {"ok": "flagged"}

    monkeypatch.setitem(Panel.data, "revoke", celerys)
    revoke_command.apply(lambda ids: calls.append(("hook", ids)))
    revoke_command.apply(lambda ids: calls.append(("twice", ids)))  # idempotent: not stacked
    reply = Panel.data["revoke"](SimpleNamespace(), ["rv-1", "rv-2"])
    assert reply == {"ok": "flagged"}
    assert calls == [("celery", ["rv-1", "rv-2"]), ("hook", ["rv-1", "rv-2"])]


def test_a_worker_registers_the_hook_that_cancels_parked_jobs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tasks  # noqa: F401 - what a worker imports

    monkeypatch.setitem(Panel.data, "revoke", Panel.data["revoke"])  # restored afterwards
    assert not getattr(Panel.data["revoke"], "_mj_revoke_hook", False)  # not at import
    worker_init.send(sender=None)  # what a worker's main process sends as it starts
    assert getattr(Panel.data["revoke"], "_mj_revoke_hook", False)


def test_cancel_parked_ends_waiting_jobs_and_leaves_submitted_ones(
    eng: InlineEngine, sim: Simulator
) -> None:
    running = eng.imagine("a lit window")
    parked = eng.imagine("a dark window")
    assert (eng.state(running), eng.state(parked)) == (RecordState.SUBMITTED, RecordState.WAITING)
    cancelled, effects = cancel_parked(eng.rt, [running, parked, "no-such-job"])
    assert cancelled == [parked]
    eng.carry(effects)
    assert (eng.state(running), eng.state(parked)) == (RecordState.SUBMITTED, RecordState.REVOKED)
    assert eng.rt.guard.state(LABEL_A).waiters == []
    assert eng.run_until(eng.done(running), 10)
    assert account(sim)["submits"] == 1
