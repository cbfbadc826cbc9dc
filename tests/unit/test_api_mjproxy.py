"""midjourney-proxy's routes: `mj-api-secret`, the submit codes, tasks with buttons, customIds."""

from __future__ import annotations

import pytest

from tests.support.api import ApiHarness, make_api
from worker.api import mjshapes
from worker.jobs.record import RecordState

PNG = "data:image/png;base64,iVBORw0KGgo="


@pytest.fixture
def h() -> ApiHarness:
    return make_api()


def secret(h: ApiHarness, tenant: str = "bot") -> dict[str, str]:
    return {"mj-api-secret": h.tokens.create(tenant).secret}


def test_without_the_secret_it_is_401(h: ApiHarness) -> None:
    assert h.client.post("/mj/submit/imagine", json={"prompt": "x"}).status_code == 401


def test_imagine_answers_code_1_with_the_task_id_and_fetch_shows_the_task(h: ApiHarness) -> None:
    headers = secret(h)
    body = {"prompt": "a cat", "state": "chat-42", "notifyHook": "https://example.com/n"}
    answer = h.client.post("/mj/submit/imagine", json=body, headers=headers).json()
    assert answer["code"] == 1 and answer["result"]
    task = h.client.get(f"/mj/task/{answer['result']}/fetch", headers=headers).json()
    assert (task["action"], task["status"], task["progress"], task["state"]) == (
        "IMAGINE",
        "NOT_START",
        "0%",
        "chat-42",
    )
    result = {
        "job_id": "t1",
        "image_url": "https://cdn/x.png",
        "prompt": "a cat",
        "finished_at": "2025-01-01T00:00:00+00:00",
        "components": ["upsample1", "variation2", "reroll", "upscale_creative", "zoom_out_2"],
    }
    h.rt.records.create(answer["result"], RecordState.SUCCESS, result=result)
    task = h.client.get(f"/mj/task/{answer['result']}/fetch", headers=headers).json()
    assert (task["status"], task["progress"], task["imageUrl"]) == (
        "SUCCESS",
        "100%",
        result["image_url"],
    )
    ids = [b["customId"] for b in task["buttons"]]
    assert ids[0] == f"MJ::JOB::upsample::1::{answer['result']}"
    assert [mjshapes.pressed(i) for i in ids] == result["components"]
    listed = h.client.post(
        "/mj/task/list-by-condition", json={"ids": [answer["result"], "nope"]}, headers=headers
    ).json()
    assert [t["id"] for t in listed] == [answer["result"]]


def test_codes_for_bad_input_missing_tasks_and_repeated_changes(h: ApiHarness) -> None:
    headers = secret(h)
    post = h.client.post
    assert post("/mj/submit/imagine", json={"prompt": ""}, headers=headers).json()["code"] == 4
    missing = post(
        "/mj/submit/change",
        json={"taskId": "nope", "action": "UPSCALE", "index": 1},
        headers=headers,
    )
    assert missing.json()["code"] == 3
    task_id = post("/mj/submit/imagine", json={"prompt": "x"}, headers=headers).json()["result"]
    result = {"job_id": "t1", "account": "acct-1", "components": ["upsample1", "upsample2"]}
    h.rt.records.create(task_id, RecordState.SUCCESS, result=result)
    first = post("/mj/submit/simple-change", json={"content": f"{task_id} U2"}, headers=headers)
    assert first.json()["code"] == 1
    again = post(
        "/mj/submit/change",
        json={"taskId": task_id, "action": "UPSCALE", "index": 2},
        headers=headers,
    ).json()
    assert again["code"] == 21 and again["result"] == first.json()["result"]
    custom = {"taskId": task_id, "customId": f"MJ::JOB::upsample::1::{task_id}"}
    assert post("/mj/submit/action", json=custom, headers=headers).json()["code"] == 1
    assert h.celery.published[-1][1]["parent"]["job_id"] == "t1"
    modal = post("/mj/submit/modal", json={"taskId": task_id}, headers=headers).json()
    assert modal["code"] == 4
    region = {"taskId": task_id, "customId": f"MJ::Inpaint::1::{task_id}::SOLO"}
    assert post("/mj/submit/action", json=region, headers=headers).json()["code"] == 4


def test_blend_and_describe_make_their_kinds(h: ApiHarness) -> None:
    headers = secret(h)
    blend = {"base64Array": [PNG, PNG], "dimensions": "PORTRAIT"}
    assert h.client.post("/mj/submit/blend", json=blend, headers=headers).json()["code"] == 1
    assert h.celery.published[-1][0] == "blend"
    one = h.client.post("/mj/submit/describe", json={"base64": PNG}, headers=headers).json()
    assert one["code"] == 1 and h.celery.published[-1][0] == "describe"


def test_another_tenants_task_is_404(h: ApiHarness) -> None:
    task_id = h.client.post(
        "/mj/submit/imagine", json={"prompt": "x"}, headers=secret(h, "a")
    ).json()["result"]
    assert h.client.get(f"/mj/task/{task_id}/fetch", headers=secret(h, "b")).status_code == 404


@pytest.mark.parametrize(
    ("content", "pressed"),
    [
        ("123 U2", ("123", "upsample2")),
        ("123 v4", ("123", "variation4")),
        ("123 R", ("123", "reroll")),
        ("123 U5", None),
        ("123", None),
    ],
)
def test_simple_change_reads_content_as_the_protocol_does(
    content: str, pressed: tuple[str, str] | None
) -> None:
    assert mjshapes.simple_change(content) == pressed
