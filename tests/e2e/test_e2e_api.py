"""The HTTP API end to end: `mjw web` over a real worker and the simulator, every route."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from threading import Thread
from typing import Any

import pytest
import requests

from tests.support.stack import Stack
from tests.support.web import Web, running_web
from worker.api.tokens import secret_key
from worker.devtools.simulator.images import png_bytes

pytestmark = pytest.mark.e2e
KEY = "sk-e2e-api-account-0001"


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    return make_stack(keys=[KEY], capacity=2, fast_s=1.0)


@pytest.fixture
def web(stack: Stack) -> Iterator[Web]:
    with running_web(stack.env) as w:
        yield w


def until_ended(web: Web, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(
            f"{web.url}/v1/jobs/{job_id}", params={"wait": 5}, headers=web.bearer, timeout=15
        ).json()
        if job["status"] in ("succeeded", "failed", "canceled"):
            return dict(job)
    raise AssertionError(f"job {job_id} did not end")


def test_a_pipeline_posted_over_http_runs_to_its_result_and_calls_back(
    web: Web, stack: Stack
) -> None:
    calls: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            calls.append(
                (dict(self.headers.items()), self.rfile.read(int(self.headers["content-length"])))
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None: ...

    hook = HTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=hook.serve_forever, daemon=True).start()
    try:
        body = {
            "kind": "imagine",
            "prompt": "a paper boat",
            "then": ["upsample2"],
            "callback_url": f"http://127.0.0.1:{hook.server_port}/cb",
            "metadata": {"order": 1},
        }
        headers = {**web.bearer, "Idempotency-Key": "e2e-1"}
        made = requests.post(f"{web.url}/v1/jobs", json=body, headers=headers, timeout=30)
        assert made.status_code == 202, made.text
        again = requests.post(f"{web.url}/v1/jobs", json=body, headers=headers, timeout=30)
        assert again.json()["id"] == made.json()["id"]
        job = until_ended(web, made.json()["id"])
        assert job["status"] == "succeeded", job
        assert job["result"]["action"] == "upsample2" and job["result"]["image_url"]
        assert [s["status"] for s in job["steps"]] == ["succeeded", "succeeded"]
        assert len(stack.sim.stats()["jobs"]) == 2  # one imagine, one upsample: paid once
        listed = requests.get(f"{web.url}/v1/jobs", headers=web.bearer, timeout=15).json()
        assert listed["items"][0]["id"] == job["id"]
        deadline = time.monotonic() + 15
        while not calls and time.monotonic() < deadline:
            time.sleep(0.1)
        (headers_seen, raw), *_ = calls
        signed = f"{headers_seen['webhook-id']}.{headers_seen['webhook-timestamp']}.".encode() + raw
        mac = hmac.new(secret_key(web.webhook_secret), signed, hashlib.sha256).digest()
        assert headers_seen["webhook-signature"] == "v1," + base64.b64encode(mac).decode()
        assert json.loads(raw)["data"]["metadata"] == {"order": 1}
    finally:
        hook.shutdown()
        hook.server_close()


def test_a_blend_and_its_follow_up_posted_over_http_run_to_their_result(web: Web) -> None:
    # Every kind is published through the same chain builder: a blend (or a describe, an
    # inpaint, a seed) once made it raise, and the POST answered 500.
    png = "data:image/png;base64," + base64.b64encode(png_bytes("a blended cat")).decode()
    body = {"kind": "blend", "images": [png, png], "then": ["upsample1"]}
    made = requests.post(f"{web.url}/v1/jobs", json=body, headers=web.bearer, timeout=30)
    assert made.status_code == 202, made.text
    job = until_ended(web, made.json()["id"])
    assert job["status"] == "succeeded", job
    assert [s["name"] for s in job["steps"]] == ["blend", "upsample1"]


def test_midjourney_proxy_clients_submit_fetch_and_press_buttons(web: Web) -> None:
    mj = {"mj-api-secret": web.token}
    made = requests.post(
        f"{web.url}/mj/submit/imagine", json={"prompt": "a cat"}, headers=mj, timeout=30
    )
    task_id = made.json()["result"]
    assert made.json()["code"] == 1
    task: dict[str, Any] = {}
    deadline = time.monotonic() + 60
    while task.get("status") not in ("SUCCESS", "FAILURE") and time.monotonic() < deadline:
        time.sleep(0.3)
        task = requests.get(f"{web.url}/mj/task/{task_id}/fetch", headers=mj, timeout=15).json()
    assert task["status"] == "SUCCESS" and task["progress"] == "100%" and task["imageUrl"]
    button = next(b for b in task["buttons"] if b["customId"].startswith("MJ::JOB::upsample::1"))
    pressed = requests.post(
        f"{web.url}/mj/submit/action",
        json={"taskId": task_id, "customId": button["customId"]},
        headers=mj,
        timeout=30,
    ).json()
    assert pressed["code"] == 1
    listed = requests.post(
        f"{web.url}/mj/task/list-by-condition",
        json={"ids": [task_id, pressed["result"]]},
        headers=mj,
        timeout=15,
    ).json()
    assert {t["id"] for t in listed} == {task_id, pressed["result"]}


def test_a_waiting_job_canceled_never_reaches_ttapi_and_a_submitted_one_is_409(
    web: Web, stack: Stack
) -> None:
    url = f"{web.url}/v1/jobs"
    ids = [
        requests.post(
            url, json={"kind": "imagine", "prompt": f"p{i}"}, headers=web.bearer, timeout=30
        ).json()["id"]
        for i in range(4)
    ]  # cap 2: two wait
    stack.wait_for(
        lambda: (
            sum(
                requests.get(f"{url}/{i}", headers=web.bearer, timeout=15).json()["status"]
                == "submitted"
                for i in ids
            )
            == 2
        )
    )
    views = {i: requests.get(f"{url}/{i}", headers=web.bearer, timeout=15).json() for i in ids}
    waiting = [i for i, v in views.items() if v["status"] == "waiting"]
    submitted = [i for i, v in views.items() if v["status"] == "submitted"]
    gone = requests.post(f"{url}/{waiting[0]}/cancel", headers=web.bearer, timeout=15)
    assert gone.status_code == 200 and gone.json()["status"] == "canceled"
    refused = requests.post(f"{url}/{submitted[0]}/cancel", headers=web.bearer, timeout=15)
    assert refused.status_code == 409 and "cannot recall" in refused.json()["detail"]
    for job_id in ids:
        until_ended(web, job_id)
    assert until_ended(web, waiting[0])["status"] == "canceled"
    assert len(stack.sim.stats()["jobs"]) == 3
