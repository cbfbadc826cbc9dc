"""A submit goes out only while its engine holds the account, and its answer lands only on the
attempt that sent it (issue 23, hole 1).

The engine takes a submit for lost once its HTTP timeouts and a stall have passed, and may send
it again; a POST that went out late, or an answer that came back late, must then neither pay
twice unseen nor take over the record of the attempt that followed it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.engine import FAST, KEY_A, LABEL_A, build_engine, submits
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.jobs import claims
from worker.jobs import submit as submit_step
from worker.jobs.effects import PollAt
from worker.jobs.record import RecordState


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=200, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    # Webhooks on (nobody listens): a first submit issues its hook token.
    return build_engine(sim, capacity=3, mj_hook_base_url="http://127.0.0.1:9")


def test_no_redis_command_runs_between_the_lease_check_and_the_post(
    eng: InlineEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, between = eng.rt, []
    checked = False
    real_may, real_execute = rt.holdings.holds, rt.redis.execute_command
    client = rt.pool.client(LABEL_A)
    real_submit = client.submit

    def may_submit(label: str) -> bool:
        nonlocal checked
        checked = True
        return real_may(label)

    def execute_command(*args: Any, **kwargs: Any) -> Any:
        if checked:
            between.append(args[0])
        return real_execute(*args, **kwargs)

    def post(request: Any, **kwargs: Any) -> Any:
        nonlocal checked
        assert request.hook_url  # the token was issued before the check
        checked = False
        return real_submit(request, **kwargs)

    monkeypatch.setattr(rt.holdings, "holds", may_submit)
    monkeypatch.setattr(rt.redis, "execute_command", execute_command)
    monkeypatch.setattr(client, "submit", post)
    job = eng.imagine("a hooked prompt")
    assert eng.state(job) == RecordState.SUBMITTED
    assert between == []


def test_an_engine_that_loses_the_account_while_issuing_a_hook_token_sends_nothing(
    eng: InlineEngine, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Writing the token blocks past the engine's lease (a half-open Redis connection, a pause):
    # whatever comes after it must not be the POST.
    rt, held = eng.rt, [True]
    real_set = rt.redis.set

    def slow_set(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith(rt.keys.hook("")):
            held[0] = False  # the lease ran out meanwhile
        return real_set(name, *args, **kwargs)

    monkeypatch.setattr(rt.redis, "set", slow_set)
    monkeypatch.setattr(rt.holdings, "holds", lambda label: held[0])
    job = eng.imagine("a prompt sent by a stalled engine")
    assert submits(sim) == 0
    assert eng.state(job) == RecordState.WAITING


def test_a_late_answer_of_the_first_attempt_never_takes_the_record_of_the_second(
    eng: InlineEngine, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = eng.rt
    client = rt.pool.client(LABEL_A)
    real_submit = client.submit
    second: dict[str, Any] = {}

    def late(request: Any, **kwargs: Any) -> Any:
        answer = real_submit(request, **kwargs)
        # Meanwhile the first attempt was taken for lost, found nowhere, and sent again: the
        # record is the second attempt's, whose POST is on its way.
        [job] = eng.inputs
        rec = rt.records.load(job)
        assert rec is not None
        second.update(sent_at=rec.sent_at + 100, submit_attempts=2)
        assert rt.records.cas(job, {"state": RecordState.SUBMITTING}, **second)
        return answer

    monkeypatch.setattr(client, "submit", late)
    job = eng.imagine("a prompt answered late")
    [first_ttapi] = sim.stats()["jobs"]
    rec = rt.records.load(job)
    assert rec is not None
    assert (rec.state, rec.ttapi_job_id) == (RecordState.SUBMITTING, "")
    assert (rec.sent_at, rec.submit_attempts) == (second["sent_at"], 2)
    # The first attempt's job is paid for: it is ours (claimed), never a look-alike's.
    assert rt.redis.get(rt.keys.claim(first_ttapi)) == job


def test_an_accepted_submit_is_recorded_in_one_round_trip(
    eng: InlineEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From TTAPI's answer to the first poll's timer: the claim, the clock skew, the SUBMITTED
    # compare-and-set, the callback read and the guard's `accepted` are one script call (a
    # round trip the hand-off waits for, and CPU the engine spends per job).
    rt, sends, answered = eng.rt, [], [False]
    eng.imagine("a warm-up prompt")  # scripts loaded: no NOSCRIPT retry in the count below
    connection_class = rt.redis.connection_pool.connection_class
    real_send = connection_class.send_packed_command

    def send(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        if answered[0]:
            sends.append(command)
        return real_send(self, command, *args, **kwargs)

    client = rt.pool.client(LABEL_A)
    real_post = client.submit

    def post(request: Any, **kwargs: Any) -> Any:
        answer = real_post(request, **kwargs)
        answered[0] = True
        return answer

    real_submit = submit_step.submit

    def submit(*args: Any, **kwargs: Any) -> Any:
        try:
            return real_submit(*args, **kwargs)
        finally:
            answered[0] = False

    monkeypatch.setattr(connection_class, "send_packed_command", send)
    monkeypatch.setattr(client, "submit", post)
    monkeypatch.setattr(submit_step, "submit", submit)
    job = eng.imagine("a prompt answered at once")
    assert eng.state(job) == RecordState.SUBMITTED
    rec = rt.records.load(job)
    assert rec is not None and rec.ttapi_job_id and rec.hook_token
    assert rt.redis.get(rt.keys.claim(rec.ttapi_job_id)) == job
    assert rt.redis.get(rt.keys.skew(LABEL_A)) is not None
    assert len(sends) == 1


@pytest.mark.parametrize("callback_first", [True, False])
def test_a_callback_that_came_during_the_submit_makes_the_first_poll_come_at_once(
    eng: InlineEngine, monkeypatch: pytest.MonkeyPatch, callback_first: bool
) -> None:
    # The answer's script reads the TTAPI job a callback named meanwhile: the job may be done
    # already, so its first fetch goes at the shortest gap, not after the expected duration.
    rt = eng.rt
    client = rt.pool.client(LABEL_A)
    real_post, real_submit = client.submit, submit_step.submit
    polls: list[PollAt] = []

    def post(request: Any, **kwargs: Any) -> Any:
        answer = real_post(request, **kwargs)
        if callback_first:
            [job] = eng.inputs
            rec = rt.records.load(job)
            assert rec is not None and claims.hooked(rt, rec, answer.job_id)
        return answer

    def submit(*args: Any, **kwargs: Any) -> Any:
        effects = real_submit(*args, **kwargs)
        polls.extend(e for e in effects if isinstance(e, PollAt))
        return effects

    monkeypatch.setattr(client, "submit", post)
    monkeypatch.setattr(submit_step, "submit", submit)
    job = eng.imagine("a job whose callback may come first")
    assert eng.state(job) in (RecordState.SUBMITTED, RecordState.SUCCESS)
    [first] = polls
    if callback_first:
        assert first.delay_s == rt.timing.bounds.min_s
    else:
        assert first.delay_s > rt.timing.bounds.min_s
