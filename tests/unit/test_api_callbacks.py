"""Callbacks: Standard Webhooks signatures, at least once per ending, one sender at a time,
every attempt on the job, private addresses refused unless allowed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from threading import Thread
from typing import Any

import pytest

from tests.support.api import ApiHarness, make_api
from worker.api.callbacks import CallbackSender, sign
from worker.api.tokens import secret_key
from worker.jobs.record import RecordState


def test_the_signature_is_standard_webhooks_v1() -> None:
    # The reference vector of Standard Webhooks' own libraries (standard-webhooks/standard-
    # webhooks: libraries/python/tests/test_webhooks.py::test_sign_function, and "sign function
    # works" in libraries/javascript/src/webhook.test.ts), read there, not remembered.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected
    # the libraries take the secret with or without its prefix; so does ours
    assert sign(
        secret.removeprefix("whsec_"), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body
    ) == (expected)


class Receiver:
    """A loopback HTTP server that records each POST and answers from `codes`."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = codes
        self.seen: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.seen.append((dict(self.headers.items()), body))
                self.send_response(outer.codes.pop(0) if outer.codes else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None: ...

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([500])
    yield r
    r.server.shutdown()
    r.server.server_close()


def _ended_job(h: ApiHarness, url: str) -> tuple[str, str]:
    issued = h.tokens.create("web")
    headers = {"Authorization": "Bearer " + issued.secret}
    body = {"kind": "imagine", "prompt": "x", "callback_url": url, "metadata": {"order": 7}}
    job = h.post(body, headers).json()
    h.rt.records.create(job["id"], RecordState.SUCCESS, result={"job_id": "t1"})
    return job["id"], issued.token.webhook_secret


def test_an_ended_job_is_called_back_signed_again_after_a_500_with_one_id(
    receiver: Receiver,
) -> None:
    h = make_api(mj_callback_allow_private=True)
    job_id, secret = _ended_job(h, receiver.url)
    sender = CallbackSender(h.api)
    sender.look(job_id)  # 500: tried again later
    h.rt.redis.zadd(h.rt.keys.api_callbacks, {job_id: 0})
    sender.look(job_id)  # 200
    sender.look(job_id)  # delivered: nothing more
    assert len(receiver.seen) == 2
    ids = {headers["webhook-id"] for headers, _ in receiver.seen}
    assert ids == {f"msg_{job_id}"}
    headers, body = receiver.seen[1]
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    mac = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(mac).decode()
    event = json.loads(body)
    assert event["type"] == "job.succeeded" and event["data"]["metadata"] == {"order": 7}
    seen = h.api.rt.redis.hget(h.rt.keys.api_job(job_id), "callbacks")
    assert [a["status"] for a in json.loads(seen or "[]")] == [500, 200]
    assert h.rt.redis.zscore(h.rt.keys.api_callbacks, job_id) is None


def test_a_second_process_does_not_send_while_one_holds_the_job(receiver: Receiver) -> None:
    h = make_api(mj_callback_allow_private=True)
    job_id, _ = _ended_job(h, receiver.url)
    h.rt.redis.set(h.rt.keys.api_callback_lock(job_id), "other", px=30_000)
    CallbackSender(h.api).look(job_id)
    assert receiver.seen == []


def test_a_job_still_running_is_looked_at_again_later(receiver: Receiver) -> None:
    h = make_api(mj_callback_allow_private=True)
    job = h.post({"kind": "imagine", "prompt": "x", "callback_url": receiver.url}, h.token()).json()
    CallbackSender(h.api).look(job["id"])
    assert receiver.seen == []
    assert (h.rt.redis.zscore(h.rt.keys.api_callbacks, job["id"]) or 0) > h.rt.clock()


def test_a_loopback_callback_is_refused_without_the_setting(receiver: Receiver) -> None:
    h = make_api()
    job_id, _ = _ended_job(h, receiver.url)
    CallbackSender(h.api).look(job_id)
    assert receiver.seen == []
    (attempt,) = json.loads(h.rt.redis.hget(h.rt.keys.api_job(job_id), "callbacks") or "[]")
    assert "MJ_CALLBACK_ALLOW_PRIVATE" in attempt["error"] and "loopback" in attempt["error"]
    assert h.rt.redis.hget(h.rt.keys.api_job(job_id), "callbacks_done") == "gave up"
