"""End to end: a user schedule fires under a real `celery beat` and its pipeline runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import Stack
from worker.adapter.schedules import step_ids

pytestmark = pytest.mark.e2e
KEY = "sk-e2e-schedule-0001"
PROMPT = "a scheduled lighthouse"

SCHEDULE = f"""
[[schedule]]
name = "every-second"
every = "1s"
prompt = "{PROMPT}"
then = ["upsample1"]
"""


def test_a_user_schedule_fires_under_beat_and_runs_its_whole_pipeline(
    make_stack: Callable[..., Stack],
    tmp_path: Path,
) -> None:
    schedule_file = tmp_path / "schedules.toml"
    schedule_file.write_text(SCHEDULE)
    stack = make_stack(
        keys=[KEY], capacity=10, fast_s=1.0, env={"MJ_SCHEDULE_FILE": str(schedule_file)}
    )

    def jobs() -> list[dict[str, Any]]:
        return [j for j in stack.sim.stats()["jobs"].values() if j["prompt"] == PROMPT]

    def pipeline_done() -> bool:
        done = {j["action"] for j in jobs() if j["status"] == "SUCCESS"}
        return {"imagine", "upsample1"} <= done

    stack.wait_for(pipeline_done, timeout=20)
    by_id = stack.sim.stats()["jobs"]
    upsample = next(j for j in jobs() if j["action"] == "upsample1" and j["status"] == "SUCCESS")
    parent = by_id[upsample["parent"]]
    assert parent["action"] == "imagine" and parent["status"] == "SUCCESS"
    assert parent["prompt"] == PROMPT


def test_a_redelivered_run_schedule_message_starts_its_pipeline_only_once(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(keys=[KEY], capacity=10, fast_s=1.0)
    prompt = "a redelivered lighthouse"
    run = {"name": "nightly", "prompt": prompt, "then": ["upsample1"]}
    # A redelivery is the same message again: same task id, same arguments.
    first = stack.app.send_task("mj.run_schedule", kwargs=run, task_id="beat-run-1")
    again = stack.app.send_task("mj.run_schedule", kwargs=run, task_id="beat-run-1")
    root = step_ids("beat-run-1", 2)[0]
    assert first.get(timeout=20) == again.get(timeout=20) == root

    def jobs(action: str) -> list[dict[str, Any]]:
        return [
            j
            for j in stack.sim.stats()["jobs"].values()
            if j["prompt"] == prompt and j["action"] == action
        ]

    stack.wait_for(lambda: any(j["status"] == "SUCCESS" for j in jobs("upsample1")), timeout=20)
    other = stack.app.send_task("mj.run_schedule", kwargs=run, task_id="beat-run-2")
    assert other.get(timeout=20) != root  # the next tick is a new run
    stack.wait_for(lambda: len(jobs("upsample1")) == 2, timeout=20)
    assert len(jobs("imagine")) == 2  # one per run, none for the redelivery
