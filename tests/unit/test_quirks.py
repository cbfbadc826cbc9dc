"""Response models absorb every documented TTAPI quirk; request models refuse bad input early."""

from __future__ import annotations

from typing import Any

import pytest

from worker.ttapi import errors
from worker.ttapi.kinds.images import (
    ActionRequest,
    BlendRequest,
    DescribeRequest,
    ImagineRequest,
    InpaintRequest,
    SeedRequest,
)
from worker.ttapi.requests import validate
from worker.ttapi.responses import (
    AccountInfo,
    Envelope,
    JobInfo,
    JobListItem,
    SubmitResult,
    list_rows,
)

PNG = "data:image/png;base64,iVBORw0KGgo="
DONE = {
    "action": "imagine",
    "jobId": "j1",
    "progress": "100",
    "prompt": "A cute kitten",
    "quota": "2",
    "discordImage": "https://d/x.png",
    "cdnImage": "https://c/x.png",
    "width": 960,
    "height": 1200,
    "hookUrl": "",
    "components": ["upsample1", "reroll"],
    "seed": None,
    "images": ["a", "b", "c", "d"],
    "brandNewField": {"x": 1},
}


@pytest.mark.parametrize("data", [None, {}, [], "missing"], ids=["null", "{}", "[]", "missing"])
def test_every_shape_of_data_parses_as_an_empty_object(data: Any) -> None:
    raw: dict[str, Any] = {"status": "PENDING_QUEUE", "message": "", "jobId": "j1"}
    if data != "missing":
        raw["data"] = data
    info = JobInfo.from_envelope(Envelope.model_validate(raw))
    assert info.job_id == "j1"
    assert info.status == "PENDING_QUEUE"
    assert info.progress == 0
    assert info.components == []
    assert info.images is None


def test_a_finished_fetch_keeps_every_field_and_tolerates_unknown_ones() -> None:
    env = Envelope.model_validate({"status": "SUCCESS", "message": "", "jobId": "j1", "data": DONE})
    info = JobInfo.from_envelope(env)
    assert (info.action, info.progress, info.cdn_image, info.width) == (
        "imagine",
        100,
        "https://c/x.png",
        960,
    )
    assert info.images == ["a", "b", "c", "d"]
    assert info.seed is None and info.finished


def test_the_hook_callback_spells_action_as_actions() -> None:
    body = {
        "status": "SUCCESS",
        "jobId": "j1",
        "message": "success",
        "data": {**{k: v for k, v in DONE.items() if k != "action"}, "actions": "upsample2"},
    }
    assert JobInfo.from_envelope(Envelope.model_validate(body)).action == "upsample2"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0", 0), ("45", 45), ("100", 100), ("87%", 87), (12, 12), (None, 0), ("", 0), ("abc", 0)],
)
def test_progress_arrives_as_a_string_and_becomes_an_int(raw: Any, expected: int) -> None:
    assert JobInfo.model_validate({"progress": raw}).progress == expected


@pytest.mark.parametrize(("raw", "expected"), [(None, None), ("", None), ("123", "123"), (7, "7")])
def test_seed_may_be_null_or_empty(raw: Any, expected: str | None) -> None:
    assert JobInfo.model_validate({"seed": raw}).seed == expected


def test_the_top_level_job_id_wins_and_data_job_id_fills_in() -> None:
    env = Envelope.model_validate({"status": "ON_QUEUE", "data": {"job_id": "inner"}})
    assert JobInfo.from_envelope(env).job_id == "inner"
    assert (
        JobInfo.from_envelope(
            Envelope.model_validate({"status": "FAILED", "data": []}), "asked"
        ).job_id
        == "asked"
    )


@pytest.mark.parametrize("data", [{"jobId": "a1"}, {"job_id": "a1"}])
def test_a_submit_answer_may_spell_the_id_either_way(data: dict[str, str]) -> None:
    assert SubmitResult.model_validate(data).job_id == "a1"


def test_info_parses_balance_and_a_positive_max_queue() -> None:
    info = AccountInfo.model_validate({"balance": "12.5", "freeze_balance": 0, "max_queue": "20"})
    assert (info.balance, info.max_queue) == (12.5, 20)
    assert AccountInfo.model_validate({"max_queue": 0}).max_queue is None


@pytest.mark.parametrize(
    "data",
    [[{"job_id": "a"}], {"list": [{"job_id": "a"}]}, {"records": [{"jobId": "a"}]}, None, {}],
)
def test_fetch_list_rows_come_from_a_list_or_an_object_holding_one(data: Any) -> None:
    rows = [JobListItem.model_validate(r) for r in list_rows(data)]
    assert [r.job_id for r in rows] == (["a"] if data else [])


@pytest.mark.parametrize(
    "when",
    [
        "2026-11-21T10:00:00Z",
        "2026-11-21T10:00:00+00:00",
        "2026-11-21T10:00:00",
        1795168800,
        1795168800000,
    ],
)
def test_fetch_list_times_parse_in_every_spelling(when: Any) -> None:
    row = JobListItem.model_validate({"job_id": "a", "created_at": when})
    assert row.created_at is not None and row.created_at.tzinfo is not None


VALID: list[tuple[type, dict[str, Any]]] = [
    (ImagineRequest, {"prompt": "a cat --ar 16:9 --v 6.0", "mode": "turbo", "timeout": 1200}),
    (ActionRequest, {"job_id": "j", "action": "upscale_creative"}),
    (SeedRequest, {"job_id": "j"}),
    (BlendRequest, {"images": [PNG, PNG, PNG], "dimensions": "LANDSCAPE"}),
    (DescribeRequest, {"image": PNG, "mode": "relax"}),
    (InpaintRequest, {"job_id": "j", "mask": "UklGRrw0AABXRUJQ", "prompt": "white background"}),
]


@pytest.mark.parametrize(("model", "fields"), VALID, ids=lambda v: getattr(v, "__name__", ""))
def test_valid_requests_render_ttapis_spelling(model: type, fields: dict[str, Any]) -> None:
    body = validate(model, **fields).body()
    assert "job_id" not in body and "hook_url" not in body
    assert ("jobId" in body) == ("job_id" in fields)


INVALID: list[tuple[type, dict[str, Any], str]] = [
    (ImagineRequest, {"prompt": ""}, "prompt"),
    (ImagineRequest, {"prompt": "   "}, "prompt: must not be empty"),
    (ImagineRequest, {"prompt": "a", "mode": "slow"}, "mode"),
    (ImagineRequest, {"prompt": "a", "timeout": 299}, "timeout: Input should be greater than"),
    (ImagineRequest, {"prompt": "a", "timeout": 1201}, "timeout: Input should be less than"),
    (ImagineRequest, {"prompt": "a", "timeout": "300"}, "timeout: Input should be a valid int"),
    (ImagineRequest, {"prompt": "a", "timeout": 300.5}, "timeout"),
    (ImagineRequest, {"prompt": "a", "colour": "red"}, "colour: Extra inputs are not permitted"),
    (ActionRequest, {"job_id": "j", "action": "upsample5"}, "action: Input should be"),
    (ActionRequest, {"job_id": "", "action": "upsample1"}, "job_id"),
    (SeedRequest, {}, "job_id: Field required"),
    (BlendRequest, {"images": [PNG]}, "at least 2"),
    (BlendRequest, {"images": [PNG] * 6}, "at most 5"),
    (BlendRequest, {"images": [PNG, "http://x/y.png"]}, "must be a data URI"),
    (BlendRequest, {"images": [PNG, PNG], "dimensions": "WIDE"}, "dimensions"),
    (DescribeRequest, {"image": "iVBORw0KGgo="}, "must be a data URI"),
    (DescribeRequest, {"image": "data:image/png;base64,!!!"}, "data URI"),
    (InpaintRequest, {"job_id": "j", "mask": "not base64 at all!"}, "mask: must be valid base64"),
]


@pytest.mark.parametrize(("model", "fields", "says"), INVALID)
def test_invalid_requests_fail_naming_the_field_and_the_rule(
    model: type, fields: dict[str, Any], says: str
) -> None:
    with pytest.raises(errors.InvalidRequest) as info:
        validate(model, **fields)
    assert says in str(info.value)
