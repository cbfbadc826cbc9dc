"""Follow-up steps as text (`--then`, batch rows, `tasks.pipeline`): parsed, checked in order."""

from __future__ import annotations

from typing import Any

import pytest
from celery import Celery

from worker.adapter.pipelines import build_chain, build_pipeline
from worker.jobs.steps import Step, parse_step, parse_steps
from worker.ttapi.errors import InvalidRequest


@pytest.mark.parametrize(
    ("text", "step"),
    [
        ("upsample2", Step("action", {"action": "upsample2"})),
        ("video", Step("video", {})),
        ("video:high", Step("video", {"motion": "high"})),
        (" video: 2, hd ,batch=1", Step("video", {"index": 2, "resolution": "hd", "batch": 1})),
        (
            "video:motion=low,resolution=sd,index=0",
            Step("video", {"motion": "low", "resolution": "sd", "index": 0}),
        ),
        (
            "video_extend:3,manual,high",
            Step("video_extend", {"index": 3, "animate": "manual", "motion": "high"}),
        ),
    ],
)
def test_a_step_reads_as_its_task_and_arguments(text: str, step: Step) -> None:
    assert parse_step(text) == step


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("upsample9", "then: unknown action(s) ['upsample9'] (valid: upsample1, "),
        ("video:4", "then: video: '4' is not an option (allowed: low, high, sd, hd, 0-3, "),
        ("video:fast", "then: video: 'fast' is not an option"),
        ("video:batch=3", "then: video: batch must be one of 1, 2, 4"),
        ("video:animate=auto", "then: video: unknown option 'animate'"),
        ("video:high,low", "then: 'video:high,low': motion is given twice"),
        ("video_extend:hd", "then: video_extend: 'hd' is not an option"),
        ("upsample2:hd", "then: unknown action(s) ['upsample2:hd']"),
    ],
)
def test_a_bad_step_is_refused_saying_what_is_allowed(text: str, says: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_steps([text])
    assert str(info.value).startswith(says)


@pytest.mark.parametrize(
    ("first", "then", "says"),
    [
        ("imagine", ["video_extend:0"], "then: 'video_extend:0' cannot follow imagine: it needs"),
        ("imagine", ["video:0", "upsample2"], "then: 'upsample2' cannot follow video:0: it needs"),
        ("video", ["upsample1"], "then: 'upsample1' cannot follow video"),
        ("edit", ["video_extend"], "cannot follow edit"),
        ("imagine", ["video:high"], "then: 'video:high' after imagine needs an index: which of"),
        ("edit", ["video"], "after edit needs an index"),
        (
            "imagine",
            ["upsample1", "variation2", "video"],
            "'video' after variation2 needs an index",
        ),
    ],
)
def test_a_step_must_follow_a_job_that_made_what_it_needs(
    first: str, then: list[str], says: str
) -> None:
    with pytest.raises(InvalidRequest, match=says):
        parse_steps(then, first)


def test_pipelines_chain_video_steps_by_task_name() -> None:
    app = Celery("outsider")
    sig = build_pipeline(app, "a fox", ["upsample2", "video:high", "video_extend"], mode="fast")
    tasks: list[Any] = sig.tasks  # type: ignore[attr-defined]
    assert [(t.task, t.kwargs) for t in tasks] == [
        ("mj.imagine", {"prompt": "a fox", "mode": "fast"}),
        ("mj.action", {"action": "upsample2"}),
        ("mj.video", {"motion": "high"}),
        ("mj.video_extend", {}),
    ]
    edit = build_chain(app, "edit", {"image": "https://x/y.png", "prompt": "p"}, ["video:1"])
    assert [t.task for t in edit.tasks] == ["mj.edit", "mj.video"]  # type: ignore[attr-defined]
    single = build_chain(app, "video", {"image": "https://x/y.png", "prompt": "p"}, download="d")
    assert [t.task for t in single.tasks] == ["mj.video", "mj.download"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("first", "then", "tasks"),
    [
        ("blend", [], ["mj.blend"]),
        ("blend", ["upsample1", "video:0"], ["mj.blend", "mj.action", "mj.video"]),
        ("inpaint", ["variation2"], ["mj.inpaint", "mj.action"]),
        ("describe", [], ["mj.describe"]),
        ("seed", [], ["mj.seed"]),
        ("action", ["video"], ["mj.action", "mj.video"]),
        ("video_extend", ["video_extend:0"], ["mj.video_extend", "mj.video_extend"]),
    ],
)
def test_a_chain_starts_with_any_kind_the_http_api_takes(
    first: str, then: list[str], tasks: list[str]
) -> None:
    # POST /v1/jobs publishes every kind through build_chain: blend, inpaint, describe and seed
    # once failed there (a KeyError: the then-grammar knew only imagine, action, edit, video).
    sig = build_chain(Celery("outsider"), first, {}, then)
    assert [t.task for t in getattr(sig, "tasks", None) or [sig]] == tasks


def test_a_kind_that_makes_nothing_to_follow_takes_no_steps() -> None:
    with pytest.raises(InvalidRequest, match="then: a describe job takes no follow-up steps"):
        parse_steps(["upsample1"], "describe")
