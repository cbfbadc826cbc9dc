"""A callback that comes while the job's submit is still under way is proof, kept and used
(issue 23, hole 10).

TTAPI calls a job's hook once the job ends, and retries three times until it gets a 200. A fast
job's callback can beat the submit's own answer; if the answer is then lost, the callback was
the only proof of which TTAPI job is ours. It is stored (and the job claimed) while the record
is SUBMITTING; the submit's answer, or the reconcile after a lost answer, then uses it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.engine import FAST, KEY_A, LABEL_A, build_engine, submits
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from tests.unit.test_webhook import call, callback
from worker.devtools.simulator import Simulator
from worker.jobs.record import RecordState
from worker.ttapi import errors
from worker.webhook.receiver import create_wsgi_app


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=200, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    # Webhooks on; the callbacks of this test are the ones it makes itself.
    return build_engine(sim, capacity=3, mj_hook_base_url="http://127.0.0.1:9")


@pytest.mark.parametrize("answer_lost", [False, True])
def test_a_callback_during_the_submit_is_kept_and_proves_which_job_is_ours(
    eng: InlineEngine, sim: Simulator, monkeypatch: pytest.MonkeyPatch, answer_lost: bool
) -> None:
    rt = eng.rt
    app = create_wsgi_app(rt, eng.carry)
    client = rt.pool.client(LABEL_A)
    real_submit = client.submit
    replies: list[int] = []

    def hooked_before_the_answer(request: Any, **kwargs: Any) -> Any:
        answer = real_submit(request, **kwargs)
        # TTAPI calls the hook once the job ended: a fast job, a slow answer.
        deadline = time.monotonic() + 5
        while client.fetch(answer.job_id).status != "SUCCESS" and time.monotonic() < deadline:
            time.sleep(0.02)
        path = "/hook/" + request.hook_url.rsplit("/hook/", 1)[1]
        for _ in range(3):  # TTAPI's tries while the job is still SUBMITTING here
            replies.append(call(app, "POST", path, callback(answer.job_id)).code)
        if answer_lost:
            raise errors.ReadTimeout("imagine: no answer in time", endpoint="imagine")
        return answer

    monkeypatch.setattr(client, "submit", hooked_before_the_answer)
    sim.set_faults(fail_paths=["fetch-list"])  # the history cannot help: only the hook can
    job = eng.imagine("a job faster than its answer")
    assert replies and replies[0] == 200, replies
    [ttapi_job] = sim.stats()["jobs"]
    assert rt.redis.get(rt.keys.claim(ttapi_job)) == job
    assert eng.run_until(eng.done(job), 5)
    assert eng.result(job)["job_id"] == ttapi_job
    assert submits(sim) == 1
    assert eng.state(job) == RecordState.SUCCESS
