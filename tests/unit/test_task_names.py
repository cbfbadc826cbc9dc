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
