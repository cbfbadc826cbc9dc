"""Records and hints written by the release before (99457b4), carried to their end by this one.

A node of the release before stopped (or died) with jobs in every state; a node of this release
takes its accounts over. The records below are written field by field as 99457b4 wrote them
(its `worker/jobs/record.py` encoding: the guard's class stored as `priority`, a number; no
`tenant`, no `caller_priority`, no `storing`; a lost answer with no deadline of its own; an old
report claim's value `1`), its TTAPI jobs made at the simulator as its submits made them. The
in-process engine (tests/support/inline.py) then drives every one: each ends once, none is paid
twice, and a result the old node stored keeps its keys.

tests/e2e/test_e2e_upgrade.py does the same with the real old code running.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.settings import Account
from tests.support.engine import KEY_A, LABEL_A, account, build_engine
from tests.support.inline import InlineEngine, Inputs
from tests.support.simulators import SimFactory
from tests.support.upgrade import RESULT_KEYS_BEFORE
from worker.devtools.simulator import Simulator
from worker.jobs import hints
from worker.jobs.outcome import Done
from worker.jobs.record import RecordState
from worker.ttapi.client import TTAPIClient

FAST = 0.3


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=10, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    # Not yet holding the account: the old node's engine held it (see `take_over_accounts`).
    # TTAPI's timeouts scaled to 30 s: a submit taken for lost (after the HTTP timeouts, 10 s)
    # is well within its job's life, as in production (35 s against 300 s).
    return build_engine(sim, capacity=4, fast_s=6.0, mj_reconcile_grace_s=0.5)


def old_record(eng: InlineEngine, job_id: str, state: str, **fields: Any) -> None:
    """Write a record as 99457b4's RecordStore did: every field a string, JSON for the four
    JSON fields, `pinned` 1/0; an open record in the active index, an ended one owed."""
    rt = eng.rt
    now = rt.clock()
    raw: dict[str, Any] = {
        "state": state,
        "kind": "imagine",
        "account": LABEL_A,
        "pinned": "0",
        "parent": "{}",
        "priority": "2",  # the guard's class, a number (this release reads it as `urgency`)
        "poll_seq": "0",
        "sig": json.dumps({"task": "mj.imagine", "options": {}}),
        "expires_at": "0",
        "waiting_since": f"{now - 5:.6f}",
        "created_at": f"{now - 5:.6f}",
        **fields,
    }
    raw["params"] = json.dumps(raw.get("params") or {"prompt": job_id, "mode": "fast"})
    key = rt.records.key(job_id)
    rt.redis.hset(key, mapping={k: str(v) for k, v in raw.items()})
    rt.redis.expire(key, rt.settings.mj_record_ttl_s)
    if state in (RecordState.SUCCESS, RecordState.FAILED, RecordState.REVOKED):
        rt.redis.zadd(rt.keys.undelivered, {job_id: now - 60})
    else:
        rt.redis.zadd(rt.keys.active, {key: now})
    eng.inputs[job_id] = Inputs("imagine", json.loads(raw["params"]))  # its task's message


def made_at_ttapi(sim: Simulator, prompt: str) -> str:
    """A TTAPI job the old node's submit made (its answer reached it, or was lost)."""
    client = TTAPIClient(Account.from_key(KEY_A), sim.url)
    try:
        return client.imagine(prompt, mode="fast").job_id
    finally:
        client.close()


def take_over_accounts(eng: InlineEngine) -> None:
    """The old node's engine is gone (its leases lapsed): this release's takes every account."""
    for label in sorted(eng.core.owned):
        eng.core.take(label)


def test_records_and_hints_of_the_release_before_each_end_once_and_none_is_paid_twice(
    sim: Simulator, eng: InlineEngine
) -> None:
    rt, now = eng.rt, eng.rt.clock()
    # Submitted and polling: its TTAPI job runs, its slot is held, its next poll a hint the
    # old node wrote (due already) or a timer that died with it (found by the takeover scan).
    for job, hinted in (("polling-hinted", True), ("polling-timer", False)):
        ttapi = made_at_ttapi(sim, job)
        assert rt.guard.acquire(LABEL_A, job).granted
        old_record(
            eng,
            job,
            RecordState.SUBMITTED,
            sent_at=f"{now - 1:.6f}",
            submit_attempts="1",
            ttapi_job_id=ttapi,
            submitted_at_ts=f"{now - 1:.6f}",
            deadline=f"{now + 300:.6f}",
            poll_seq="1",
            last_poll_at=f"{now - 1:.6f}",
            next_poll_at=f"{now:.6f}",
            progress="0",
            prev_progress="0",
            prev_progress_at="0",
        )
        if hinted:
            hints.push(rt.redis, rt.keys, LABEL_A, [f"poll|{job}|1|{int(now * 1000)}"])
    # A submit whose answer was lost (AMBIGUOUS, as 99457b4 wrote it: no deadline of its own);
    # TTAPI made the job, so its history shows it.
    lost_ttapi = made_at_ttapi(sim, "lost-answer")
    assert rt.guard.acquire(LABEL_A, "lost-answer").granted
    old_record(
        eng,
        "lost-answer",
        RecordState.AMBIGUOUS,
        sent_at=f"{now - 1:.6f}",
        submit_attempts="1",
        poll_seq="1",
        lost_at=f"{now - 1:.6f}",
        last_error="HTTP 502 from a proxy",
    )
    # A submit whose sender died mid-POST (SUBMITTING, past its HTTP timeouts and a stall):
    # TTAPI made the job.
    made_at_ttapi(sim, "died-mid-submit")
    assert rt.guard.acquire(LABEL_A, "died-mid-submit").granted
    old_record(
        eng,
        "died-mid-submit",
        RecordState.SUBMITTING,
        sent_at=f"{now - rt.timing.submit_limit_s - rt.timing.stall_s - 1:.6f}",
        submit_attempts="1",
    )
    # Parked behind the full account, in the guard's line (the guard's scripts are unchanged).
    for job in ("waiting-1", "waiting-2"):
        old_record(eng, job, RecordState.WAITING)
        rt.guard.enqueue(LABEL_A, job, priority=2)
    # Ended on the old node, its report not stored yet (and an old report claim, value 1).
    old_result = {k: None for k in RESULT_KEYS_BEFORE} | {
        "job_id": "ttapi-old",
        "status": "SUCCESS",
        "account": LABEL_A,
        "task_id": "ended-owed",
        "kind": "imagine",
    }
    old_record(
        eng,
        "ended-owed",
        RecordState.SUCCESS,
        result=json.dumps(old_result),
        finished_at_ts=f"{now - 60:.6f}",
        progress="100",
    )
    # ...whose report run on the old node was killed mid-report: its claim (value 1, as the old
    # claim.lua set it, not a token) holds until it lapses.
    rt.redis.set(rt.keys.delivery("ended-owed"), "1", px=int(rt.timing.stall_s * 1000))
    jobs = ["waiting-1", "waiting-2", "polling-hinted", "polling-timer", "lost-answer"]
    jobs += ["died-mid-submit", "ended-owed"]
    submits_before = account(sim)["submits"]
    assert submits_before == 4

    take_over_accounts(eng)
    eng.pump_every = 0.2
    assert eng.run_until(eng.done(*jobs), 20), {j: eng.state(j) for j in jobs}

    for job in jobs:
        assert [type(o) for o in eng.stored[job]] == [Done], (job, eng.stored.get(job))
        assert set(eng.result(job)) >= RESULT_KEYS_BEFORE, job
        assert eng.state(job) == RecordState.SUCCESS
    assert eng.result("lost-answer")["job_id"] == lost_ttapi  # found, not submitted again
    assert eng.result("ended-owed") == old_result  # delivered as the old node stored it
    assert eng.count("resume", "ended-owed") >= 2  # once parked behind the old claim
    assert account(sim)["submits"] == submits_before + 2  # only the two that waited
    assert eng.run_until(lambda: eng.holders(LABEL_A) == 0, 5)
    assert eng.run_until(lambda: not rt.redis.zcard(rt.keys.undelivered), 5)  # all stored


def test_an_old_record_reads_its_guard_class_and_gains_the_callers_defaults(
    eng: InlineEngine,
) -> None:
    old_record(eng, "follow-up", RecordState.WAITING, priority="1")
    rec = eng.rt.records.load("follow-up")
    assert rec is not None
    assert (rec.urgency, rec.tenant, rec.priority) == (1, "default", "normal")
    assert rec.state is RecordState.WAITING and not rec.storing and not rec.extra
