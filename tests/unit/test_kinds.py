"""One description per job kind: every kind has one `KindSpec`, and what differs between kinds
is read from it (worker.ttapi.kinds)."""

from __future__ import annotations

import inspect
import os
from types import SimpleNamespace
from typing import Any

import pytest

from worker.ttapi import errors, kinds
from worker.ttapi.kinds import Parent, spec_of

TASK_TABLE = (
    "imagine",
    "action",
    "seed",
    "blend",
    "describe",
    "inpaint",
    "video",
    "video_extend",
    "edit",
)


def test_every_kind_of_the_task_table_has_one_spec_in_its_order() -> None:
    assert kinds.KINDS == TASK_TABLE
    assert all(spec_of(k).name == k and spec_of(k).task == f"mj.{k}" for k in TASK_TABLE)


def test_an_unknown_kind_is_refused_naming_it() -> None:
    with pytest.raises(errors.InvalidRequest, match="kind: unknown job kind 'paint'"):
        spec_of("paint")


@pytest.mark.parametrize(
    ("kind", "parent"),
    [
        ("imagine", Parent.NONE),
        ("action", Parent.ALWAYS),
        ("seed", Parent.ALWAYS),
        ("blend", Parent.NONE),
        ("describe", Parent.NONE),
        ("inpaint", Parent.ALWAYS),
        ("video", Parent.MAY),
        ("video_extend", Parent.ALWAYS),
        ("edit", Parent.NONE),
    ],
)
def test_each_kind_says_whether_it_follows_a_parent(kind: str, parent: Parent) -> None:
    assert spec_of(kind).parent is parent


def test_a_follow_up_names_its_parent_in_its_request_and_leaves_local_arguments_out() -> None:
    extend = spec_of("video_extend").request_for({"index": 1, "motion": "high"}, "v-1")
    assert extend.body() == {"jobId": "v-1", "index": 1, "manual": "high", "animateMode": "auto"}
    video = spec_of("video").request_for(
        {"image": "https://cdn.example.com/a.png", "prompt": "a boat", "index": 2}, "parent-1"
    )
    assert "index" not in video.body() and "jobId" not in video.body()


def test_an_action_refuses_a_button_its_parent_does_not_offer() -> None:
    parent = {"job_id": "grid-1", "components": ["upsample1", "upsample2"]}
    action = spec_of("action")
    assert action.reads({"action": "upsample2"}, parent) == {"action": "upsample2"}
    with pytest.raises(errors.InvalidRequest) as info:
        action.reads({"action": "upscale_creative"}, parent)
    assert str(info.value) == (
        "action: 'upscale_creative' is not available on job grid-1 "
        "(its components: upsample1, upsample2)"
    )


def test_the_duration_factor_is_the_kinds_and_one_for_the_rest() -> None:
    assert [kinds.factor_of(k) for k in ("action", "seed", "describe", "imagine", "edit")] == [
        0.6,
        0.3,
        0.3,
        1.0,
        1.0,
    ]


def test_the_http_apis_model_of_each_kind_is_made_of_its_specs_task_arguments() -> None:
    from worker.api.requests import KINDS as MODELS

    assert list(MODELS) == list(kinds.KINDS)
    for name, spec in kinds.SPECS.items():
        model = MODELS[name]
        fields = list(model.model_fields)
        assert (model.__name__, model.kind_name) == (spec.title, name)
        assert fields[fields.index("kind") + 1 :] == list(spec.args), name


def test_a_batch_row_starts_with_the_kinds_whose_spec_names_its_options() -> None:
    from worker.cli.batch import OPTIONS

    assert list(OPTIONS) == ["imagine", "video", "edit"]
    for name, options in OPTIONS.items():
        assert set(options) <= set(kinds.SPECS[name].args), name


def test_each_kinds_task_takes_its_specs_arguments_and_who_asks() -> None:
    import tasks
    from worker.adapter.app import app

    for spec in kinds.SPECS.values():  # exported as `tasks.<kind>`
        assert spec.name in tasks.__all__ and getattr(tasks, spec.name).name == spec.task
    for spec in kinds.SPECS.values():
        params = set(inspect.signature(app.tasks[spec.task].run).parameters) - {"self"}
        assert params == {*spec.args, "tenant", "priority"}, spec.name


@pytest.mark.parametrize(
    ("task", "kwargs", "params", "who"),
    [
        (
            "video_extend",
            {"parent": "v-1", "index": 2, "tenant": "web"},
            {"index": 2, "motion": "low", "animate": "auto"},
            {"account": None, "parent": "v-1", "tenant": "web", "priority": None},
        ),
        (
            "imagine",
            {"prompt": "a cat", "account": "acct-1", "priority": "high"},
            {"prompt": "a cat", "mode": "fast", "timeout": None, "get_u_images": False},
            {"account": "acct-1", "parent": None, "tenant": None, "priority": "high"},
        ),
    ],
)
def test_a_task_hands_its_kind_the_jobs_parameters_and_who_asks_apart(
    monkeypatch: pytest.MonkeyPatch,
    task: str,
    kwargs: dict[str, Any],
    params: dict[str, Any],
    who: dict[str, Any],
) -> None:
    import tasks
    from tasks import jobs
    from worker.adapter.app import app
    from worker.jobs.outcome import Done

    seen: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def run(rt: Any, job_id: str, kind: str, got: dict[str, Any], **opts: Any) -> Any:
        seen.append((kind, got, {k: opts[k] for k in who}))
        return Done({"job_id": job_id}), []  # its outcome, and no effects to carry out

    monkeypatch.setattr(jobs, "entry", SimpleNamespace(run=run))
    monkeypatch.setattr(jobs, "delivered", lambda rt, task_id, stored=None: None)
    monkeypatch.setattr(app, "_runtime", object())
    monkeypatch.setattr(app, "_runtime_pid", os.getpid())
    result = getattr(tasks, task).apply(kwargs=kwargs, task_id="task-1")
    assert result.get() == {"job_id": "task-1"}
    assert seen == [(task, params, who)]
