"""The HTTP API's routes in-process: tokens, jobs, idempotency, errors as problem+json."""

from __future__ import annotations

import json

import pytest

from tests.support.api import ApiHarness, make_api
from worker.adapter.api_jobs import StepState
from worker.api import idempotency
from worker.jobs.record import RecordState

PROBLEM = "application/problem+json"
IMAGINE = {"kind": "imagine", "prompt": "a red fox", "then": ["upsample2"]}


@pytest.fixture
def h() -> ApiHarness:
    return make_api()


def test_no_token_and_a_wrong_token_are_401_problems(h: ApiHarness) -> None:
    for headers in ({}, {"Authorization": "Bearer mjw_" + "x" * 40}, {"Authorization": "Basic x"}):
        reply = h.client.get("/v1/jobs", headers=headers)
        assert reply.status_code == 401
        assert reply.headers["content-type"] == PROBLEM
        assert reply.headers["www-authenticate"] == "Bearer"


def test_a_revoked_token_is_refused_at_once(h: ApiHarness) -> None:
    issued = h.tokens.create("web")
    headers = {"Authorization": "Bearer " + issued.secret}
    assert h.client.get("/v1/jobs", headers=headers).status_code == 200
    h.tokens.revoke(issued.token.id)
    assert h.client.get("/v1/jobs", headers=headers).status_code == 401


def test_a_post_publishes_the_pipeline_and_answers_202_with_location(h: ApiHarness) -> None:
    reply = h.post(IMAGINE, h.token())
    assert reply.status_code == 202
    job = reply.json()
    assert reply.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["status"] == "waiting" and [s["name"] for s in job["steps"]] == [
        "imagine",
        "upsample2",
    ]
    ((first, kwargs, then, ids),) = h.celery.published
    assert (first, then) == ("imagine", ["upsample2"])
    assert kwargs == {"prompt": "a red fox", "mode": "fast", "get_u_images": False}
    assert ids[0] == job["id"] and len(ids) == 2


def test_tenant_and_priority_go_to_tasks_that_take_them(h: ApiHarness) -> None:
    h.celery.takes = {"prompt", "tenant", "priority"}
    h.post({**IMAGINE, "priority": "low"}, h.token("nightly"))
    assert h.celery.published[0][1] | {} == {
        "prompt": "a red fox",
        "mode": "fast",
        "get_u_images": False,
        "tenant": "nightly",
        "priority": "low",
    }


def test_the_same_key_and_body_find_the_same_job_and_publish_once(h: ApiHarness) -> None:
    headers = {**h.token(), "Idempotency-Key": "order-17"}
    first = h.post(IMAGINE, headers)
    again = h.post(dict(reversed(list(IMAGINE.items()))), headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len(h.celery.published) == 1
    assert first.json()["id"] == idempotency.job_id_for("web", "order-17")


def test_the_same_key_with_another_body_is_422(h: ApiHarness) -> None:
    headers = {**h.token(), "Idempotency-Key": "order-18"}
    h.post(IMAGINE, headers)
    reply = h.post({**IMAGINE, "prompt": "a blue fox"}, headers)
    assert reply.status_code == 422 and reply.headers["content-type"] == PROBLEM
    assert reply.json()["errors"][0]["field"] == "Idempotency-Key"


def test_keys_are_per_tenant(h: ApiHarness) -> None:
    a = h.post(IMAGINE, {**h.token("a"), "Idempotency-Key": "k"}).json()
    b = h.post(IMAGINE, {**h.token("b"), "Idempotency-Key": "k"}).json()
    assert a["id"] != b["id"] and len(h.celery.published) == 2


def _in_flight(h: ApiHarness, key: str, began: float) -> None:
    """The key as a first request that began at `began` and has not finished leaves it."""
    digest = idempotency.request_digest(
        {
            "kind": "imagine",
            "prompt": "a red fox",
            "then": ["upsample2"],
            "priority": "normal",
            "mode": "fast",
            "get_u_images": False,
        }
    )
    fields = {"digest": digest, "job": idempotency.job_id_for("web", key), "state": "pending"}
    h.rt.redis.hset(h.api.idem.key_of("web", key), mapping={**fields, "at": began, "nonce": "x"})


def test_a_key_in_flight_is_409_after_a_short_wait(
    h: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("worker.api.app.WAIT_S", 0.3)
    headers = {**h.token(), "Idempotency-Key": "busy"}
    _in_flight(h, "busy", h.rt.clock())
    reply = h.post(IMAGINE, headers)
    assert reply.status_code == 409 and reply.headers["retry-after"] == "1"
    assert not h.celery.published


def test_a_key_whose_request_died_is_carried_on_with_the_same_ids(h: ApiHarness) -> None:
    headers = {**h.token(), "Idempotency-Key": "died"}
    _in_flight(h, "died", h.rt.clock() - idempotency.LEASE_S - 1)
    reply = h.post(IMAGINE, headers)
    assert reply.status_code == 202
    assert h.celery.published[0][3][0] == idempotency.job_id_for("web", "died")


def test_another_tenants_job_is_404(h: ApiHarness) -> None:
    job = h.post(IMAGINE, h.token("a")).json()
    other = h.token("b")
    assert h.client.get(f"/v1/jobs/{job['id']}", headers=other).status_code == 404
    assert h.client.post(f"/v1/jobs/{job['id']}/cancel", headers=other).status_code == 404
    assert h.client.get("/v1/jobs", headers=other).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "imagine"}, "prompt"),
        ({"kind": "imagine", "prompt": "x", "mode": "slow"}, "mode"),
        ({"kind": "imagine", "prompt": "x", "then": ["upsample9"]}, "then"),
        ({"kind": "imagine", "prompt": "x", "bogus": 1}, "bogus"),
        ({"kind": "painting", "prompt": "x"}, "kind"),
        ({"prompt": "x"}, "kind"),
        ({"kind": "blend", "images": ["data:image/png;base64,AAAA"]}, "images"),
        ({"kind": "imagine", "prompt": "x", "callback_url": "ftp://x"}, "callback_url"),
        ({"kind": "imagine", "prompt": "x", "metadata": {"k": "v" * 5000}}, "metadata"),
        ({"kind": "video", "image": "data:image/png;base64,AAAA", "prompt": "x"}, "image"),
    ],
)
def test_a_bad_body_is_a_422_problem_naming_the_field(
    h: ApiHarness, body: dict[str, object], field: str
) -> None:
    reply = h.post(body, h.token())
    assert reply.status_code == 422 and reply.headers["content-type"] == PROBLEM
    problem = reply.json()
    assert problem["status"] == 422 and problem["type"].endswith("validation")
    assert field in [e["field"] for e in problem["errors"]], problem
    assert not h.celery.published


def test_an_inline_image_over_the_limit_is_422_naming_it(h: ApiHarness) -> None:
    big = "data:image/png;base64," + "A" * 1_500_000
    body = {"kind": "describe", "image": big}
    harness = make_api(mj_inline_image_max_bytes=1_000_000)
    reply = harness.post(body, harness.token())
    assert reply.status_code == 422 and reply.json()["errors"][0]["field"] == "image"


def test_bodies_over_the_route_limit_are_413_before_they_are_read(h: ApiHarness) -> None:
    headers = h.token()
    reply = h.client.post("/v1/jobs/x/cancel", content=b"x" * 1_100_000, headers=headers)
    assert reply.status_code == 413 and reply.headers["content-type"] == PROBLEM
    huge = {**headers, "content-length": str(60_000_000), "content-type": "application/json"}
    assert h.client.post("/v1/jobs", content=b"{}", headers=huge).status_code == 413


def test_not_json_is_a_422_problem(h: ApiHarness) -> None:
    reply = h.client.post(
        "/v1/jobs", content=b"{nope", headers={**h.token(), "content-type": "application/json"}
    )
    assert reply.status_code == 422 and reply.headers["content-type"] == PROBLEM


def test_pinning_an_account_needs_the_tenant_to_be_allowed() -> None:
    h = make_api(mj_api_account_tenants="ops")
    body = {**IMAGINE, "account": "acct-12345678"}
    assert h.post(body, h.token("web")).json()["errors"][0]["field"] == "account"
    assert h.post(body, h.token("ops")).status_code == 202


def _record(h: ApiHarness, step_id: str, state: str, **fields: object) -> None:
    h.rt.records.create(step_id, state, **fields)


def test_status_follows_the_steps_records(h: ApiHarness) -> None:
    headers = h.token()
    job = h.post(IMAGINE, headers).json()
    first, second = (s["id"] for s in job["steps"])
    url = f"/v1/jobs/{job['id']}"
    _record(h, first, RecordState.SUBMITTED, progress=40)
    seen = h.client.get(url, headers=headers).json()
    assert (seen["status"], seen["progress"]) == ("submitted", 40)
    h.rt.records.update(first, state=RecordState.SUCCESS, result={"job_id": "t1", "components": []})
    h.celery.shown[second] = StepState("WAITING", info={"position": 3})
    seen = h.client.get(url, headers=headers).json()
    assert (seen["status"], seen["position"]) == ("waiting", 3)
    assert seen["steps"][0]["result"]["job_id"] == "t1"
    _record(h, second, RecordState.FAILED, error="[Banned prompt detected] no")
    seen = h.client.get(url, headers=headers).json()
    assert seen["status"] == "failed" and "Banned" in seen["error"]


def test_a_step_refused_before_its_record_fails_the_job(h: ApiHarness) -> None:
    headers = h.token()
    job = h.post(IMAGINE, headers).json()
    h.celery.shown[job["id"]] = StepState("FAILURE", error="InvalidRequest: prompt: no")
    seen = h.client.get(f"/v1/jobs/{job['id']}", headers=headers).json()
    assert seen["status"] == "failed" and "prompt" in seen["error"]


def test_cancel_of_a_waiting_job_revokes_its_record_and_it_never_leaves(h: ApiHarness) -> None:
    headers = h.token()
    job = h.post(IMAGINE, headers).json()
    reply = h.client.post(f"/v1/jobs/{job['id']}/cancel", headers=headers)
    assert reply.status_code == 200 and reply.json()["status"] == "canceled"
    rec = h.rt.records.load(job["id"])
    assert rec is not None and rec.state == RecordState.REVOKED
    again = h.client.post(f"/v1/jobs/{job['id']}/cancel", headers=headers)
    assert again.status_code == 409


def test_cancel_of_a_submitted_job_is_409_saying_it_cannot_be_recalled(h: ApiHarness) -> None:
    headers = h.token()
    job = h.post(IMAGINE, headers).json()
    _record(h, job["id"], RecordState.SUBMITTED)
    reply = h.client.post(f"/v1/jobs/{job['id']}/cancel", headers=headers)
    assert reply.status_code == 409 and "cannot recall" in reply.json()["detail"]


def test_the_list_is_newest_first_filtered_and_paged_by_cursor(h: ApiHarness) -> None:
    headers = h.token()
    ids = [h.post({**IMAGINE, "prompt": f"p{i}"}, headers).json()["id"] for i in range(5)]
    _record(h, ids[1], RecordState.SUBMITTED)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = h.client.get("/v1/jobs", headers=headers, params=params).json()
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids[::-1]
    submitted = h.client.get("/v1/jobs", headers=headers, params={"status": "submitted"})
    assert [j["id"] for j in submitted.json()["items"]] == [ids[1]]
    assert h.client.get("/v1/jobs", headers=headers, params={"cursor": "x"}).status_code == 422


def test_a_follow_up_takes_the_callers_succeeded_job_as_parent(h: ApiHarness) -> None:
    headers = h.token()
    job = h.post({"kind": "imagine", "prompt": "x"}, headers).json()
    body = {"kind": "action", "parent": job["id"], "action": "upsample1"}
    assert h.post(body, headers).json()["errors"][0]["field"] == "parent"
    result = {"job_id": "t9", "account": "acct-1", "components": ["upsample1"]}
    _record(h, job["id"], RecordState.SUCCESS, result=result)
    assert h.post({**body, "action": "upsample3"}, headers).json()["errors"][0]["field"] == "action"
    assert h.post(body, headers).status_code == 202
    assert h.celery.published[-1][1]["parent"] == result
    assert h.post(body, h.token("other")).status_code == 422


def test_the_spec_is_openapi_3_1_with_every_error_as_a_problem(h: ApiHarness) -> None:
    spec = h.client.get("/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert h.client.get("/docs").status_code == 404
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for code, answer in operation["responses"].items():
                if code.startswith(("4", "5")):
                    assert list(answer["content"]) == [PROBLEM], (path, method, code)
    kinds = spec["components"]["schemas"]
    assert {"Imagine", "Blend", "Video", "VideoExtend", "Edit", "Problem"} <= set(kinds)
    assert json.dumps(spec).count("HTTPValidationError") == 0
