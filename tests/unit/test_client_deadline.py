"""Every TTAPI request is over by its deadline, whatever the server does byte by byte.

urllib3's timeouts bound each read; a server (or a proxy) that trickles its answer keeps every
read under them for as long as it likes. A submit that outlives the time the engine allows it
could create a job after the engine took it for lost and sent it again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from config.settings import Account
from tests.support.scripted import Reply, ScriptedServer
from worker.ttapi import errors
from worker.ttapi.client import TTAPIClient
from worker.ttapi.deadline import Call, Watchdog
from worker.ttapi.kinds.images import ImagineRequest
from worker.ttapi.requests import validate

KEY = "sk-test-secret-key-0123456789"
OK = {"status": "SUCCESS", "message": "", "data": {"jobId": "tt-trickled-0001"}}


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer().start()
    yield srv
    srv.stop()


def client_for(url: str) -> TTAPIClient:
    return TTAPIClient(Account.from_key(KEY), url, connect_timeout=0.5, read_timeout=0.5)


def test_an_answer_trickled_within_every_read_timeout_still_ends_at_the_total_deadline(
    server: ScriptedServer,
) -> None:
    server.push(Reply(200, OK, trickle=0.2))  # ~14 s for the whole body, 0.2 s per read
    started = time.monotonic()
    with pytest.raises(errors.ReadTimeout) as caught:
        client_for(server.url).imagine("a trickled answer")
    assert time.monotonic() - started < 1.0 + 0.5  # connect + read timeouts, plus slack
    assert caught.value.may_have_created  # the request went out: TTAPI may have the job


def test_a_deadline_passed_before_the_request_sends_nothing(server: ScriptedServer) -> None:
    request = validate(ImagineRequest, prompt="too late to send")
    with pytest.raises(errors.ConnectError) as caught:
        client_for(server.url).submit(request, deadline=time.monotonic() - 0.001)
    assert not caught.value.may_have_created
    assert server.requests == []


def test_the_watchdog_aborts_only_calls_still_running_at_their_deadline() -> None:
    dog = Watchdog()
    late, done = Call(time.monotonic() + 0.05), Call(time.monotonic() + 0.05)
    done.finished = True
    dog.watch(late)
    dog.watch(done)
    deadline = time.monotonic() + 2
    while not late.expired and time.monotonic() < deadline:
        time.sleep(0.01)
    assert late.expired and not done.expired
