"""The contract's task names and arguments: the video and edit tasks next to the image ones."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import tasks
from worker.adapter.app import app

CONTRACT: dict[str, dict[str, Any]] = {
    "mj.imagine": {"prompt": None, "mode": "fast", "timeout": None, "get_u_images": False},
    "mj.action": {"parent": None, "action": None, "timeout": None},
    "mj.video": {
        "parent": None,
        "image": None,
        "index": None,
        "prompt": None,
        "end_image": None,
        "motion": "low",
        "resolution": "sd",
        "batch": 4,
        "account": None,
    },
    "mj.video_extend": {"parent": None, "index": None, "motion": "low", "animate": "auto"},
    "mj.edit": {"image": None, "prompt": None, "type": "edit", "mode": "fast", "account": None},
}


@pytest.mark.parametrize(("name", "arguments"), CONTRACT.items())
def test_each_task_is_registered_with_the_contracts_arguments_and_defaults(
    name: str, arguments: dict[str, Any]
) -> None:
    task = app.tasks[name]
    params = inspect.signature(task.run).parameters
    for arg, default in arguments.items():
        assert arg in params, f"{name} lacks {arg}"
        if default is not None:
            assert params[arg].default == default, f"{name}.{arg}"


def test_the_new_job_tasks_are_importable_from_tasks() -> None:
    assert {"video", "video_extend", "edit"} <= set(tasks.__all__)
    assert tasks.video.name == "mj.video" and tasks.edit.name == "mj.edit"
    assert isinstance(tasks.video_extend, tasks.JobTask)


def test_tasks_exports_exactly_its_names() -> None:
    assert tasks.__all__ == [
        "JobTask",
        "action",
        "blend",
        "describe",
        "download",
        "edit",
        "epoch",
        "imagine",
        "inpaint",
        "pipeline",
        "seed",
        "video",
        "video_extend",
    ], "a name may be added; none renamed or removed (callers import them)"
    assert all(hasattr(tasks, name) for name in tasks.__all__)


# Messages of releases before stay registered with their arguments: one may still wait in the
# queue (or be scheduled by an old beat) when a node of this release takes it.
MESSAGES = {
    "mj.poll": ["job_id", "seq"],
    "mj.tick": ["label", "due_ms"],
    "mj.fill": ["label"],
    "mj.pump": [],
    "mj.refresh_accounts": [],
    "mj.run_schedule": ["name", "prompt", "then", "mode", "account", "download", "scheduled_at"],
    "mj.download": ["result", "directory"],
}
JOB_TASKS = {f"mj.{k}" for k in ("imagine", "action", "seed", "blend", "describe", "inpaint")}
JOB_TASKS |= {"mj.video", "mj.video_extend", "mj.edit"}


@pytest.mark.parametrize(("name", "arguments"), MESSAGES.items())
def test_a_message_of_the_release_before_is_still_taken_with_its_arguments(
    name: str, arguments: list[str]
) -> None:
    params = list(inspect.signature(app.tasks[name].run).parameters)
    assert params[: len(arguments)] == arguments  # arguments are only ever added, at the end


def test_the_job_and_message_names_are_all_registered() -> None:
    mine = {name for name in app.tasks if name.startswith("mj.")}
    assert mine == JOB_TASKS | set(MESSAGES), "a name may be added; none renamed or removed"
