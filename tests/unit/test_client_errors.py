"""The client maps every HTTP outcome to the right exception, with TTAPI's message, never a key."""

from __future__ import annotations

import socket

import pytest

from config.settings import Account
from tests.support.scripted import Reply, ScriptedServer
from worker.ttapi import errors
from worker.ttapi.client import TTAPIClient

KEY = "sk-test-secret-key-0123456789"


def client_for(url: str, read_timeout: float = 5.0) -> TTAPIClient:
    return TTAPIClient(Account.from_key(KEY), url, connect_timeout=2.0, read_timeout=read_timeout)


def failed(message: str, data: object = None) -> dict[str, object]:
    return {"status": "FAILED", "message": message, "data": data}


STATUS_TABLE = [
    (400, failed("banned prompt words :sexy", {}), errors.BadRequest, False),
    (
        401,
        {"status": "FAILED", "message": "Wrong TT-API-KEY or email is not activated."},
        errors.Unauthorized,
        False,
    ),
    (402, failed("Insufficient balance"), errors.InsufficientBalance, False),
    (404, failed("Not Found"), errors.NotFound, False),
    (429, failed("Requests too frequent"), errors.RateLimited, False),
    (499, failed("User product queue insufficient"), errors.QueueFull, False),
    (500, failed("System error"), errors.ServerError, True),
    (503, failed("Service unavailable"), errors.ServerError, True),
    (504, failed("Request timeout"), errors.GatewayTimeout, True),
]


@pytest.mark.parametrize(("status", "body", "exc_type", "maybe"), STATUS_TABLE)
def test_each_http_status_raises_its_own_exception_with_ttapis_message(
    scripted: ScriptedServer, status: int, body: dict[str, object], exc_type: type, maybe: bool
) -> None:
    scripted.push(Reply(status, body))
    with pytest.raises(exc_type) as info:
        client_for(scripted.url).imagine("a cat")
    assert type(info.value) is exc_type
    assert info.value.status_code == status
    assert str(info.value) == body["message"]
    assert info.value.may_have_created is maybe
    assert KEY not in repr(info.value.__dict__) + str(info.value)


def test_an_html_502_page_is_a_server_error_named_by_its_title(scripted: ScriptedServer) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1></body></html>"
    scripted.push(Reply(502, page))
    with pytest.raises(errors.ServerError) as info:
        client_for(scripted.url).fetch("job-1")
    assert info.value.status_code == 502
    assert "502 Bad Gateway" in str(info.value)


def test_a_429_carries_retry_after_when_ttapi_sends_it(scripted: ScriptedServer) -> None:
    scripted.push(Reply(429, failed("Requests too frequent"), {"Retry-After": "3"}))
    with pytest.raises(errors.RateLimited) as info:
        client_for(scripted.url).fetch("job-1")
    assert info.value.retry_after == 3.0


@pytest.mark.parametrize(
    "body",
    ['{"status": "SUCCESS", "data": {"jobId": "ab', "<html><body>oops</body></html>", "[1, 2]"],
    ids=["truncated-json", "html-on-200", "json-array"],
)
def test_a_malformed_200_body_is_a_response_error(scripted: ScriptedServer, body: str) -> None:
    scripted.push(Reply(200, body, {"Content-Type": "application/json"}))
    with pytest.raises(errors.ResponseError) as info:
        client_for(scripted.url).imagine("a cat")
    assert info.value.may_have_created is True


def test_an_envelope_failed_on_http_200_is_refused_with_its_message(
    scripted: ScriptedServer,
) -> None:
    scripted.push(Reply(200, failed("[Invalid parameter] Invalid value for argument: `--v`:`8`")))
    with pytest.raises(errors.EnvelopeFailed, match="Invalid value for argument"):
        client_for(scripted.url).imagine("a cat --v 8")


def test_a_success_without_a_job_id_is_a_response_error(scripted: ScriptedServer) -> None:
    scripted.push(Reply(200, {"status": "SUCCESS", "message": "", "data": {}}))
    with pytest.raises(errors.ResponseError, match="without a job id"):
        client_for(scripted.url).imagine("a cat")


def test_a_closed_port_is_a_connect_error_that_created_nothing() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(errors.ConnectError) as info:
        client_for(f"http://127.0.0.1:{port}").imagine("a cat")
    assert info.value.may_have_created is False


def test_a_connection_dropped_after_sending_may_have_created_the_job(
    scripted: ScriptedServer,
) -> None:
    scripted.push(Reply(close=True))
    with pytest.raises(errors.ConnectionLost) as info:
        client_for(scripted.url).imagine("a cat")
    assert info.value.may_have_created is True
    assert scripted.requests[0]["body"]["prompt"] == "a cat"


def test_no_answer_within_the_read_timeout_may_have_created_the_job(
    scripted: ScriptedServer,
) -> None:
    scripted.push(Reply(200, {"status": "SUCCESS", "data": {"jobId": "j"}}, delay=2.0))
    with pytest.raises(errors.ReadTimeout) as info:
        client_for(scripted.url, read_timeout=0.2).imagine("a cat")
    assert info.value.may_have_created is True


def test_a_message_that_echoes_the_key_is_scrubbed(scripted: ScriptedServer) -> None:
    scripted.push(Reply(401, {"status": "FAILED", "message": f"Key {KEY} is not activated."}))
    with pytest.raises(errors.Unauthorized) as info:
        client_for(scripted.url).info()
    assert KEY not in str(info.value)
    assert "***" in str(info.value)


def test_the_key_travels_only_in_the_tt_api_key_header(scripted: ScriptedServer) -> None:
    scripted.push(Reply(200, {"status": "SUCCESS", "message": "", "data": {"jobId": "j-1"}}))
    result = client_for(scripted.url).imagine("a cat", mode="relax", timeout=600)
    sent = scripted.requests[0]
    assert result.job_id == "j-1"
    assert sent["headers"]["TT-API-KEY"] == KEY
    assert sent["body"] == {"prompt": "a cat", "mode": "relax", "timeout": 600, "getUImages": False}
    assert KEY not in sent["path"]


@pytest.mark.parametrize(
    ("exc", "maybe"),
    [
        (errors.ConnectError("x"), False),
        (errors.ReadTimeout("x"), True),
        (errors.ConnectionLost("x"), True),
        (errors.BadRequest("x"), False),
        (errors.Unauthorized("x"), False),
        (errors.InsufficientBalance("x"), False),
        (errors.NotFound("x"), False),
        (errors.RateLimited("x"), False),
        (errors.QueueFull("x"), False),
        (errors.ServerError("x"), True),
        (errors.RequestError("x"), True),
        (errors.GatewayTimeout("x"), True),
        (errors.EnvelopeFailed("x"), False),
    ],
)
def test_may_have_created_follows_the_documented_table(exc: errors.TTAPIError, maybe: bool) -> None:
    assert exc.may_have_created is maybe


@pytest.mark.parametrize("cls", [errors.JobFailed, errors.InvalidRequest, errors.QueueFull])
def test_every_error_is_rebuilt_from_its_message_alone(cls: type[errors.TTAPIError]) -> None:
    original = cls("[Banned prompt detected] Sorry!", status_code=400)
    rebuilt = cls(*original.args)
    assert str(rebuilt) == str(original) == "[Banned prompt detected] Sorry!"
