"""End to end: real redis-server, the simulator, real `celery worker` subprocesses."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from celery.canvas import chord, group, signature

from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
KEY_A, KEY_B = "sk-e2e-account-a-0001", "sk-e2e-account-b-0002"


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    return make_stack(keys=[KEY_A], capacity=10, fast_s=1.0)


def test_sixty_imagines_on_one_account_never_exceed_its_cap_of_ten(stack: Stack) -> None:
    results = [stack.send("mj.imagine", f"a lighthouse, study {i}") for i in range(60)]
    done = [r.get(timeout=120) for r in results]
    assert all(d["status"] == "SUCCESS" and len(d["images"]) == 4 for d in done)
    stats = stack.sim.stats()["accounts"][stack.labels[0]]
    assert stats["peak_in_progress"] == 10
    assert stats["count_499"] == 0
    assert stats["submits"] == 60
    assert stack.holders(stack.labels[0]) == 0


def test_a_chain_by_name_returns_the_last_steps_result_and_stays_on_one_key(stack: Stack) -> None:
    chain = (
        signature("mj.imagine", kwargs={"prompt": "a red fox"}, app=stack.app)
        | signature("mj.action", kwargs={"action": "upsample2"}, app=stack.app)
        | signature("mj.action", kwargs={"action": "upscale_creative"}, app=stack.app)
    )
    result = chain.apply_async().get(timeout=60)
    assert result["action"] == "upscale_creative"
    assert result["prompt"] == "a red fox"
    jobs = stack.sim.stats()["jobs"]
    assert sorted(j["action"] for j in jobs.values()) == [
        "imagine",
        "upsample2",
        "upscale_creative",
    ]
    assert {j["label"] for j in jobs.values()} == {stack.labels[0]}
    assert result["parent_job_id"] in jobs


def test_a_chord_of_imagines_calls_its_body_once_with_every_result(stack: Stack) -> None:
    # Each header job's end is stored by the engine that saw it (its report runs in place):
    # the chord's counting (the backend's on_chord_part_return) must happen there too.
    prompts = ["a red fox", "a grey wolf", "a white hare"]
    header = group(signature("mj.imagine", kwargs={"prompt": p}, app=stack.app) for p in prompts)
    body = signature("celery.accumulate", app=stack.app)
    (results,) = chord(header, body).apply_async().get(timeout=60)
    assert sorted(r["prompt"] for r in results) == sorted(prompts)
    assert all(r["status"] == "SUCCESS" for r in results)
    assert "its report failed here" not in stack.logs()  # the engine reported them itself


def test_the_pipeline_helper_builds_the_same_chain(stack: Stack) -> None:
    from tasks import pipeline

    sig = pipeline("a blue whale", "upsample1", mode="fast")
    result = sig.apply_async().get(timeout=60)
    assert result["action"] == "upsample1"
    assert result["account"] == stack.labels[0]


def test_a_banned_prompt_fails_with_ttapis_message_and_frees_its_slot(stack: Stack) -> None:
    bad = stack.send("mj.imagine", "something banned here")
    with pytest.raises(Exception) as info:
        bad.get(timeout=30)
    assert type(info.value).__name__ == "JobFailed"
    assert str(info.value).startswith("[Banned prompt detected]")
    assert stack.holders(stack.labels[0]) == 0


def test_bad_input_fails_at_once_naming_the_field(stack: Stack) -> None:
    before = stack.sim.stats()["accounts"][stack.labels[0]]["submits"]
    bad = stack.send("mj.imagine", "a cat", mode="warp")
    with pytest.raises(Exception, match="mode") as info:
        bad.get(timeout=30)
    assert type(info.value).__name__ == "InvalidRequest"
    assert stack.sim.stats()["accounts"][stack.labels[0]]["submits"] == before


def test_no_log_line_of_the_worker_contains_a_key(stack: Stack) -> None:
    stack.send("mj.imagine", "a quiet pond").get(timeout=30)
    with pytest.raises(Exception, match="Banned"):
        stack.send("mj.imagine", "banned words").get(timeout=30)
    for node in stack.nodes:
        text = node.log_path.read_text()
        assert "Task mj.imagine" in text
        assert KEY_A not in text


def test_an_action_missing_from_the_parents_components_is_refused_before_any_request(
    stack: Stack,
) -> None:
    grid = stack.send("mj.imagine", "a small boat").get(timeout=30)
    before = stack.sim.stats()["accounts"][stack.labels[0]]["requests"]
    with pytest.raises(Exception, match="upscale_creative") as info:
        stack.send("mj.action", grid, action="upscale_creative").get(timeout=30)
    assert type(info.value).__name__ == "InvalidRequest"
    assert stack.sim.stats()["accounts"][stack.labels[0]]["requests"] == before


def test_a_stuck_job_times_out_and_frees_its_slot(stack: Stack) -> None:
    stuck = stack.send("mj.imagine", "this one is stuck", timeout=300)
    with pytest.raises(Exception, match="Job Timeout"):
        stuck.get(timeout=60)
    assert stack.holders(stack.labels[0]) == 0


def test_two_accounts_share_the_load(make_stack: Callable[..., Stack]) -> None:
    s = make_stack(keys=[KEY_A, KEY_B], capacity=5, fast_s=1.0)
    results = [s.send("mj.imagine", f"twin peaks {i}") for i in range(30)]
    done = [r.get(timeout=120) for r in results]
    used = {d["account"] for d in done}
    assert used == set(s.labels)
    stats = s.sim.stats()["accounts"]
    for label in s.labels:
        assert stats[label]["peak_in_progress"] == 5
        assert stats[label]["count_499"] == 0


def test_a_caller_holding_only_an_async_result_sees_waiting_then_submitted_then_success(
    make_stack: Callable[..., Stack],
) -> None:
    s = make_stack(keys=[KEY_A], capacity=1, fast_s=8.0)
    first = s.send("mj.imagine", "a first beacon")
    second = s.send("mj.imagine", "a second beacon")
    seen: dict[str, list[tuple[str, Any]]] = {first.id: [], second.id: []}
    deadline = time.monotonic() + 40
    while not (first.ready() and second.ready()) and time.monotonic() < deadline:
        for r in (first, second):
            state = r.state
            if not seen[r.id] or seen[r.id][-1][0] != state or state == "SUBMITTED":
                seen[r.id].append((state, r.info if state in ("WAITING", "SUBMITTED") else None))
        time.sleep(0.05)
    assert second.get(timeout=5)["status"] == "SUCCESS"
    # Both arrive at once: whichever took the slot first ran first, the other waited.
    waited = second if any(state == "WAITING" for state, _ in seen[second.id]) else first
    ran = first if waited is second else second
    waiting = [info for state, info in seen[waited.id] if state == "WAITING"]
    assert waiting and waiting[0]["position"] == 1 and waiting[0]["account"] == s.labels[0]
    submitted = [info for state, info in seen[ran.id] if state == "SUBMITTED"]
    assert submitted and submitted[0]["ttapi_job_id"] == ran.get(timeout=5)["job_id"]
    assert max(info["progress"] for info in submitted) > 0
    assert "STARTED" not in {state for state, _ in seen[ran.id]}
    assert first.state == second.state == "SUCCESS"  # a late progress never hides the end


def test_slots_are_handed_over_while_thousands_of_jobs_are_still_queued_ahead(
    make_stack: Callable[..., Stack],
) -> None:
    """Polls and wake-ups ride `mj.control`: the account's second and third waves are submitted
    while most of a deep backlog still sits in the user queue, not once it has drained."""
    s = make_stack(keys=[KEY_A], capacity=10, fast_s=1.0, start=False)
    for i in range(3000):
        s.send("mj.imagine", f"a deep backlog {i}")
    s.start()
    label = s.labels[0]
    s.wait_for(lambda: s.sim.stats()["accounts"][label]["submits"] >= 30, timeout=90)
    assert s.redis.llen("celery") > 0  # twenty slots handed over, the backlog not yet parked
    assert s.sim.stats()["accounts"][label]["peak_in_progress"] == 10


def test_dedicated_control_workers_run_the_engine_while_user_workers_take_jobs(
    make_stack: Callable[..., Stack],
) -> None:
    s = make_stack(keys=[KEY_A], capacity=2, fast_s=1.0, nodes=2, queues=["celery", "mj.control"])
    results = [s.send("mj.imagine", f"a split fleet {i}") for i in range(6)]
    assert [r.get(timeout=40)["status"] for r in results] == ["SUCCESS"] * 6
    user_log = s.nodes[0].log_path.read_text(errors="replace")
    control_log = s.nodes[1].log_path.read_text(errors="replace")
    assert "engine: not started" in user_log  # no engine on a node that takes no control work
    assert "engine: started for" in control_log and "took acct-" in control_log


def test_a_job_revoked_while_ttapi_runs_it_ends_revoked_and_its_chain_stops(
    make_stack: Callable[..., Stack],
) -> None:
    # TTAPI cannot cancel: the job runs to its end and frees its slot, but its result is not
    # delivered. Its report runs in the engine, which never sees a worker's revoked ids.
    stack = make_stack(keys=[KEY_A], capacity=10, fast_s=4.0)
    chain = signature("mj.imagine", kwargs={"prompt": "a revoked fox"}, app=stack.app) | signature(
        "mj.action", kwargs={"action": "upsample2"}, app=stack.app
    )
    last = chain.apply_async()
    first = last.parent
    stack.wait_for(lambda: first.state == "SUBMITTED", 30)
    first.revoke()
    stack.wait_for(lambda: first.state == "REVOKED", 60)
    assert last.state == "PENDING"  # the chain's next step was never sent
    jobs = stack.sim.stats()["jobs"].values()
    assert [j["action"] for j in jobs] == ["imagine"]
    stack.wait_for(lambda: stack.holders(stack.labels[0]) == 0, 30)  # its slot freed
